from django.apps import AppConfig


class EdgeConfig(AppConfig):
    name = "exchange_console.edge"
    label = "edge"
    verbose_name = "Edge subscriptions and EdgeSync"
