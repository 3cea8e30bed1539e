"""What Exchange's Queue Viewer shows: the delivery queues of each transport server (one per next hop), the
messages in them and each message's recipients still to deliver.

The transport owns these tables: transport.queue.state is the one module that changes them (the transport's
queue manager and the console's queue actions both go through it). The message content stays in the durable
store of the server that owns the queue (transport.queue.store), referenced by store_id. A message whose
recipients go to two next hops is in two queues, as in Exchange.
"""
from django.db import models
from django.db.models.functions import Substr

from exchange_console.organization.models import TransportServer


class DeliveryType(models.TextChoices):
    DNS_CONNECTOR = "DnsConnectorDelivery"
    SMART_HOST_CONNECTOR = "SmartHostConnectorDelivery"
    NON_SMTP_GATEWAY = "NonSmtpGatewayDelivery"
    MAPI = "MapiDelivery"
    UNREACHABLE = "Unreachable"
    POISON = "Poison"


class QueueStatus(models.TextChoices):
    ACTIVE = "Active"
    CONNECTING = "Connecting"
    READY = "Ready"
    RETRY = "Retry"
    SUSPENDED = "Suspended"


class MessageStatus(models.TextChoices):
    ACTIVE = "Active"
    PENDING_REMOVE = "PendingRemove"
    PENDING_SUSPEND = "PendingSuspend"
    READY = "Ready"
    RETRY = "Retry"
    SUSPENDED = "Suspended"


class DeliveryQueueQuerySet(models.QuerySet):
    def for_server(self, server_name):
        return self.filter(server__name__iexact=server_name)

    def failing_to_connect(self):
        return self.filter(connection_failing=True)


class DeliveryQueue(models.Model):
    """Get-Queue: a next hop of one server. next_hop_domain is the recipient domain (DNS), the smart hosts,
    the foreign connector, or the reason a recipient is unreachable; next_hop_connector names the connector."""
    server = models.ForeignKey(TransportServer, on_delete=models.CASCADE, related_name="delivery_queues")
    delivery_type = models.CharField(max_length=32, choices=DeliveryType.choices)
    next_hop_domain = models.CharField(max_length=512)
    next_hop_connector = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=QueueStatus.choices, default=QueueStatus.READY)
    next_retry_time = models.DateTimeField(null=True, blank=True)
    last_retry_time = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Consecutive attempts in which no host of the next hop accepted a connection.
    connection_failures = models.PositiveIntegerField(default=0)
    connection_failing = models.BooleanField(default=False)

    objects = DeliveryQueueQuerySet.as_manager()

    class Meta:
        ordering = ["server__name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["server", "delivery_type", "next_hop_domain", "next_hop_connector"],
                                    name="one_queue_per_next_hop"),
        ]

    @property
    def identity(self):
        return f"{self.server.name}\\{self.id}"

    @property
    def message_count(self):
        """Its messages: as the listing counted them alongside (annotate(count=...)), else counted now."""
        annotated = self.__dict__.get("count")
        return self.messages.count() if annotated is None else annotated

    def __str__(self):
        return self.identity


# What the Queue Viewer sorts subjects by, and indexes: a subject's first 255 characters. A whole one (1,024
# characters, up to 4 bytes each) can be more than a PostgreSQL index entry holds (2,704 bytes).
SUBJECT_SORT_KEY = Substr("subject", 1, 255)


class QueuedMessage(models.Model):
    """Get-Message: one message in one queue."""
    queue = models.ForeignKey(DeliveryQueue, on_delete=models.CASCADE, related_name="messages")
    store_id = models.CharField(max_length=64, db_index=True)   # what the worker looks messages up by
    from_address = models.CharField(max_length=320, blank=True, default="")
    subject = models.CharField(max_length=1024, blank=True, default="")
    internet_message_id = models.CharField(max_length=998, blank=True, default="")
    size = models.BigIntegerField(default=0)
    date_received = models.DateTimeField()
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.READY)
    retry_count = models.PositiveIntegerField(default=0)
    next_retry_time = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delay_notified = models.BooleanField(default=False)
    # Which delivery attempt holds the message while it is Active ('<worker instance>:<attempt>'), so that a
    # restarted worker can tell its own attempts from those of a worker that died.
    claim = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        ordering = ["date_received", "id"]
        constraints = [models.UniqueConstraint(fields=["queue", "store_id"], name="one_message_per_queue")]
        # The Queue Viewer's sorts (each column, then id) and its filters on a queue: with 100,000 messages a
        # page reads its 100 rows along an index instead of sorting the queue.
        indexes = [*(models.Index(fields=[field, "id"], name=f"queued_by_{field}") for field in (
            "date_received", "from_address", "size", "status", "queue")),
                   models.Index(SUBJECT_SORT_KEY, "id", name="queued_by_subject_start"),
                   # What a delivery attempt claims next: a queue's oldest messages, read in order along this
                   # index rather than by sorting the whole queue for every batch (55 ms at 100,000 messages).
                   models.Index(fields=["queue", "date_received", "id"], name="queued_in_delivery_order")]

    @property
    def identity(self):
        return f"{self.queue.identity}\\{self.id}"

    @property
    def server(self):
        return self.queue.server

    def __str__(self):
        return self.identity


class QueuedRecipient(models.Model):
    """A recipient of a queued message not yet delivered or failed; its row goes when it is done."""
    message = models.ForeignKey(QueuedMessage, on_delete=models.CASCADE, related_name="recipients")
    address = models.CharField(max_length=320)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.address
