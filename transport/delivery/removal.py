"""Remove-Message on the server that holds the message: an NDR to the sender when asked (WithNDR), a FAIL
tracking event, then the message leaves the queue (and the store when no other queue holds it)."""
from django.db import transaction

from exchange_console.queues.models import QueuedMessage
from transport.delivery import runtime
from transport.delivery.engine import remove_if_done
from transport.delivery.reports import send_report
from transport.dsn import FAILED, RecipientReport

REMOVED = "550 5.3.0 QUEUE.Admin; message deleted by administrator"


@transaction.atomic
def remove_message(server_name, message_id, with_ndr):
    message = QueuedMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None:
        return
    recipients = list(message.recipients.values_list("address", flat=True))
    try:
        envelope, content = runtime.store(server_name).load(message.store_id)
    except FileNotFoundError:
        envelope = content = None
    if envelope is not None:
        if with_ndr:
            send_report(server_name, runtime.send_snapshot(server_name), FAILED, envelope, content,
                        [RecipientReport(address, "5.3.0", REMOVED) for address in recipients])
        runtime.tracking_log(server_name).event(
            "FAIL", envelope, recipients=recipients, recipient_status=[REMOVED] * len(recipients), source="QUEUE",
            connector_id=message.queue.next_hop_connector, directionality="Originating")
    store_id = message.store_id
    message.delete()
    remove_if_done(server_name, store_id)
