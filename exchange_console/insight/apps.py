from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "exchange_console.insight"
    label = "insight"
    verbose_name = "Mail-flow insight"
