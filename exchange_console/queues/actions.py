"""What an administrator does to queues and messages (Queue Viewer, Retry-/Suspend-/Resume-Queue,
Suspend-/Resume-/Remove-/Export-Message): state changes authorized and audited through the write path, then the
server that owns the queue is asked to act (deliver now, or remove a message with or without an NDR)."""
from django.db import transaction
from django.utils import timezone

from exchange_console.queues.models import DeliveryQueue, MessageStatus, QueuedMessage, QueueStatus
from exchange_console.queues.schemas import MESSAGE, QUEUE
from exchange_console.services import audited, authorize

WAITING = (MessageStatus.READY, MessageStatus.RETRY)


def _queue_action(verb, queue, change, then=None, values=None):
    """then(queue): what the owning server is asked to do once the change is committed."""
    def run():
        authorize(verb, QUEUE, queue)
        change()
        if then:
            transaction.on_commit(lambda: then(queue))
        return DeliveryQueue.objects.select_related("server").get(pk=queue.pk)
    return audited(verb, QUEUE, queue, values or {}, run)


def retry_queue(queue, resubmit=False):
    """Retry-Queue: connect now instead of at the next retry time. With -Resubmit, the server first routes the
    queue's waiting messages again, as Exchange resubmits them to the categorizer: a connector added or changed
    since they were queued takes them without another attempt at the old next hop."""
    def change():
        DeliveryQueue.objects.filter(pk=queue.pk).update(next_retry_time=timezone.now())
        queue.messages.filter(status=MessageStatus.RETRY).update(next_retry_time=None)
    if resubmit:
        return _queue_action("Retry", queue, change, then=resubmit_now, values={"Resubmit": True})
    return _queue_action("Retry", queue, change, then=deliver_now)


def suspend_queue(queue):
    return _queue_action("Suspend", queue, lambda: DeliveryQueue.objects.filter(pk=queue.pk).update(
        status=QueueStatus.SUSPENDED))


def resume_queue(queue):
    def change():
        DeliveryQueue.objects.filter(pk=queue.pk, status=QueueStatus.SUSPENDED).update(status=QueueStatus.READY)
    return _queue_action("Resume", queue, change, then=deliver_now)


def _message_action(verb, message, change, values=None, then=None):
    def run():
        authorize(verb, MESSAGE, message)
        change()
        if then:
            transaction.on_commit(then)
        return QueuedMessage.objects.select_related("queue__server").get(pk=message.pk)
    return audited(verb, MESSAGE, message, values or {}, run)


def suspend_message(message):
    """Waiting messages stop at once; one being delivered right now is marked PendingSuspend."""
    def change():
        QueuedMessage.objects.filter(pk=message.pk, status__in=WAITING).update(status=MessageStatus.SUSPENDED)
        QueuedMessage.objects.filter(pk=message.pk, status=MessageStatus.ACTIVE).update(
            status=MessageStatus.PENDING_SUSPEND)
    return _message_action("Suspend", message, change)


def resume_message(message):
    def change():
        QueuedMessage.objects.filter(
            pk=message.pk, status__in=(MessageStatus.SUSPENDED, MessageStatus.PENDING_SUSPEND)).update(
            status=MessageStatus.READY, next_retry_time=None)
    return _message_action("Resume", message, change, then=lambda: deliver_now(message.queue))


def remove_message(message, with_ndr):
    """Remove-Message: PendingRemove now; the owning server removes it (and sends the NDR) from its store."""
    def change():
        QueuedMessage.objects.filter(pk=message.pk).update(status=MessageStatus.PENDING_REMOVE)

    def then():
        from transport.tasks import remove_message as task

        server = message.queue.server
        task.apply_async((server.name, message.pk, with_ndr), queue=server.celery_queue)
    return _message_action("Remove", message, change, {"WithNDR": with_ndr}, then)


def export_message(message):
    """Export-Message: the message as its server's queue store holds it (headers and body, as bytes). Its content
    is more than Get-Message shows, so it takes the queue rights (Exchange's Transport Queues role) and is audited."""
    from transport.queue.store import server_store

    _message_action("Export", message, lambda: None)
    return server_store(message.queue.server.name).load(message.store_id)[1]


def deliver_now(queue):
    from transport.tasks import deliver_queue

    deliver_queue.apply_async((queue.server.name, queue.pk), queue=queue.server.celery_queue)


def resubmit_now(queue):
    from transport.tasks import resubmit_queue

    resubmit_queue.apply_async((queue.server.name, queue.pk), queue=queue.server.celery_queue)
