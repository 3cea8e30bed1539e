from django.apps import AppConfig


class QueuesConfig(AppConfig):
    name = "exchange_console.queues"
    label = "queues"
    verbose_name = "Queue Viewer"
