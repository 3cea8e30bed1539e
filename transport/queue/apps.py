from django.apps import AppConfig


class QueuesConfig(AppConfig):
    """The transport's queue tables (app label `queues`, as when the console owned them, so the tables and the
    migration history stay what they were)."""
    name = "transport.queue"
    label = "queues"
    verbose_name = "Transport queues"
