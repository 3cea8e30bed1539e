from django.db import models

from exchange_console.organization.models import TransportServer


class QueueSample(models.Model):
    """One minute of a transport server: messages queued at its end, messages received and sent during it.
    Celery beat asks every server for one each minute (toolbox/tasks.py); the Queue Viewer charts the last day."""
    server = models.ForeignKey(TransportServer, on_delete=models.CASCADE, related_name="queue_samples")
    when = models.DateTimeField(db_index=True)
    queued = models.PositiveIntegerField()
    received = models.PositiveIntegerField()
    sent = models.PositiveIntegerField()

    class Meta:
        ordering = ["server", "when"]
        constraints = [models.UniqueConstraint(fields=["server", "when"], name="one_sample_per_server_minute")]
