from django.apps import AppConfig


class QueuesConfig(AppConfig):
    """The Queue Viewer's cmdlets and actions; the queue tables are the transport's (transport.queue)."""
    name = "exchange_console.queues"
    label = "queue_viewer"
    verbose_name = "Queue Viewer"
