"""Queues and queued messages seen as Exchange's Get-Queue/Get-Message show them. The parameters are
read-only (what changes them are the queue actions in actions.py); the schemas give the shell and the audit
log Exchange's property names, formats and identities (SERVER\\QueueId, SERVER\\QueueId\\MessageId)."""
from exchange_console import params as p
from transport.queue.models import DeliveryQueue, QueuedMessage
from exchange_console.schema import ObjectSchema, Param, read_only


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
# The columns behind the properties a -Filter can name, so filters run in the database (MessageCount is the
# count the queue listings annotate).
QUEUE_COLUMNS = {"deliverytype": "delivery_type", "status": "status", "messagecount": "count",
                 "nexthopdomain": "next_hop_domain", "nexthopconnector": "next_hop_connector",
                 "lasterror": "last_error"}

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
        read_only("Recipients", "recipients", p.MultiValued(),
              getter=lambda message: [recipient.address for recipient in message.recipients.all()]),
        Param("WithNDR", "with_ndr", p.Bool(), shown=False),
    ],
    default_columns=("Identity", "FromAddress", "Status", "Queue", "Subject"),
)
MESSAGE_COLUMNS = {"fromaddress": "from_address", "status": "status", "size": "size", "subject": "subject",
                   "internetmessageid": "internet_message_id", "retrycount": "retry_count",
                   "lasterror": "last_error"}
