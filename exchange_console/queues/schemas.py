"""Queues and queued messages seen as Exchange's Get-Queue/Get-Message show them. The parameters are
read-only (what changes them are the queue actions in actions.py); the schemas give the shell and the audit
log Exchange's property names, formats and identities (SERVER\\QueueId, SERVER\\QueueId\\MessageId)."""
from django.db.models import CharField, Count, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat

from exchange_console import params as p
from exchange_console.queues.filters import DATE, NUMBER, SIZE, Column, Identity, Related
from transport.queue.models import DeliveryQueue, QueuedMessage, QueuedRecipient
from exchange_console.schema import ObjectSchema, Param, read_only


def recipients(message):
    """A queued message's recipients: as listings read them with the message (state.with_addresses), else its
    recipient rows (prefetched or not)."""
    addresses = getattr(message, "addresses", None)
    return list(addresses) if addresses is not None else [recipient.address for recipient in message.recipients.all()]


QUEUE = ObjectSchema(
    noun="Queue",
    model=DeliveryQueue,
    params=[
        read_only("Identity", "identity", getter=lambda queue: queue.identity),
        read_only("DeliveryType", "delivery_type"),
        read_only("Status", "status"),
        read_only("MessageCount", "message_count", p.Int(0, 2**63)),
        read_only("NextHopDomain", "next_hop_domain"),
        read_only("NextHopConnector", "next_hop_connector"),
        read_only("NextRetryTime", "next_retry_time", p.DateTime()),
        read_only("LastRetryTime", "last_retry_time", p.DateTime()),
        read_only("LastError", "last_error"),
        Param("Resubmit", "resubmit", p.Bool(), shown=False),
    ],
    default_columns=("Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain"),
)
# A queue's MessageCount as listings annotate it: counted along the messages' queue index, one queue at a time
# (a join with GROUP BY would read every queued message).
MESSAGE_COUNT = Coalesce(Subquery(QueuedMessage.objects.filter(queue=OuterRef("pk")).order_by().values(
    "queue").annotate(count=Count("pk")).values("count")), 0)
# What each property a -Filter can name is in the database, so that every filter is one query. Identities are
# built in SQL as the schemas show them (SERVER\QueueId, SERVER\QueueId\MessageId); MessageCount is the count
# the queue listings annotate.
QUEUE_IDENTITY = Concat("server__name", Value("\\"), Cast("id", CharField()), output_field=CharField())
QUEUE_COLUMNS = {"Identity": Identity(QUEUE_IDENTITY, "server__name", "id"),
                 "DeliveryType": Column("delivery_type"), "Status": Column("status"),
                 "MessageCount": Column("count", NUMBER),
                 "NextHopDomain": Column("next_hop_domain"), "NextHopConnector": Column("next_hop_connector"),
                 "NextRetryTime": Column("next_retry_time", DATE), "LastRetryTime": Column("last_retry_time", DATE),
                 "LastError": Column("last_error")}

MESSAGE = ObjectSchema(
    noun="Message",
    model=QueuedMessage,
    params=[
        read_only("Identity", "identity", getter=lambda message: message.identity),
        read_only("FromAddress", "from_address"),
        read_only("Status", "status"),
        read_only("Size", "size", p.Size()),
        read_only("Subject", "subject"),
        read_only("InternetMessageId", "internet_message_id"),
        read_only("DateReceived", "date_received", p.DateTime()),
        read_only("RetryCount", "retry_count", p.Int(0, 2**31)),
        read_only("LastError", "last_error"),
        read_only("Queue", "queue", getter=lambda message: message.queue.identity),
        read_only("Recipients", "recipients", p.MultiValued(), getter=recipients),
        Param("WithNDR", "with_ndr", p.Bool(), shown=False),
    ],
    default_columns=("Identity", "FromAddress", "Status", "Queue", "Subject"),
)
MESSAGE_IDENTITY = Concat("queue__server__name", Value("\\"), Cast("queue_id", CharField()), Value("\\"),
                          Cast("id", CharField()), output_field=CharField())
# A message's Queue is matched among the queues and its Recipients among the recipient rows, each a subquery.
MESSAGE_COLUMNS = {"Identity": Identity(MESSAGE_IDENTITY, "queue__server__name", "queue_id", "id"),
                   "FromAddress": Column("from_address"),
                   "Status": Column("status"), "Size": Column("size", SIZE), "Subject": Column("subject"),
                   "InternetMessageId": Column("internet_message_id"),
                   "DateReceived": Column("date_received", DATE), "RetryCount": Column("retry_count", NUMBER),
                   "LastError": Column("last_error"),
                   "Queue": Related(DeliveryQueue.objects, QUEUE_COLUMNS["Identity"], link="queue_id"),
                   "Recipients": Related(QueuedRecipient.objects, Column("address"), link="id", key="message_id")}
