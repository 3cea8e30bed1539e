"""Queued messages in bulk, for the Queue Viewer's scale test and benchmark."""
from datetime import timedelta

from django.utils import timezone

from transport.queue.models import DeliveryQueue, MessageStatus, QueuedMessage, QueuedRecipient


def add_queued_messages(server, count, queues=4):
    """`count` messages spread over `queues` smart host queues, every tenth one Suspended, each with 2 recipients."""
    hops = [DeliveryQueue.objects.create(server=server, delivery_type="SmartHostConnectorDelivery",
                                         next_hop_domain=f"[192.0.2.{index + 1}]", next_hop_connector=f"ISP {index}",
                                         status="Retry", last_error="451 4.4.0 Primary target IP address responded "
                                                                   "with: 421 4.4.2 Connection dropped")
            for index in range(queues)]
    now = timezone.now()
    messages = QueuedMessage.objects.bulk_create(
        QueuedMessage(queue=hops[number % queues], store_id=f"bench{number:06d}", from_address=f"user{number % 97}@contoso.com",
                      subject=f"Invoice {number:05d}", internet_message_id=f"<{number}@contoso.com>", size=4096,
                      date_received=now - timedelta(seconds=number),
                      status=MessageStatus.SUSPENDED if number % 10 == 0 else MessageStatus.RETRY)
        for number in range(count))
    QueuedRecipient.objects.bulk_create(
        QueuedRecipient(message=message, address=f"r{index}@fabrikam.example") for message in messages
        for index in range(2))
    return hops
