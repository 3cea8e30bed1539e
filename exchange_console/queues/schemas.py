"""Queues and queued messages seen as Exchange's Get-Queue/Get-Message show them. The parameters are
read-only (what changes them are the queue actions in actions.py); the schemas give the shell and the audit
log Exchange's property names, formats and identities (SERVER\\QueueId, SERVER\\QueueId\\MessageId)."""
from exchange_console import params as p
from exchange_console.queues.models import DeliveryQueue, QueuedMessage
from exchange_console.schema import ObjectSchema, Param


def shown(name, field, param_type=None, getter=None):
    return Param(name, field, param_type or p.String(), settable=False, getter=getter)


QUEUE = ObjectSchema(
    noun="Queue",
    model=DeliveryQueue,
    params=[
        shown("Identity", "identity", getter=lambda queue: queue.identity),
        shown("DeliveryType", "delivery_type"),
        shown("Status", "status"),
        shown("MessageCount", "message_count", p.Int(0, 2**63)),
        shown("NextHopDomain", "next_hop_domain"),
        shown("NextHopConnector", "next_hop_connector"),
        shown("NextRetryTime", "next_retry_time", p.DateTime()),
        shown("LastRetryTime", "last_retry_time", p.DateTime()),
        shown("LastError", "last_error"),
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
        shown("Identity", "identity", getter=lambda message: message.identity),
        shown("FromAddress", "from_address"),
        shown("Status", "status"),
        shown("Size", "size", p.Size()),
        shown("Subject", "subject"),
        shown("InternetMessageId", "internet_message_id"),
        shown("DateReceived", "date_received", p.DateTime()),
        shown("RetryCount", "retry_count", p.Int(0, 2**31)),
        shown("LastError", "last_error"),
        shown("Queue", "queue", getter=lambda message: message.queue.identity),
        shown("Recipients", "recipients", p.MultiValued(),
              getter=lambda message: [recipient.address for recipient in message.recipients.all()]),
        Param("WithNDR", "with_ndr", p.Bool(), shown=False),
    ],
    default_columns=("Identity", "FromAddress", "Status", "Queue", "Subject"),
)
MESSAGE_COLUMNS = {"fromaddress": "from_address", "status": "status", "size": "size", "subject": "subject",
                   "internetmessageid": "internet_message_id", "retrycount": "retry_count",
                   "lasterror": "last_error"}
