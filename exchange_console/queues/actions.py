"""What an administrator does to queues and messages (Queue Viewer, Retry-/Suspend-/Resume-Queue,
Suspend-/Resume-/Remove-/Export-Message): authorized and audited through the write path, the state changed by
the transport's queue state module, then the server that owns the queue is asked to act (deliver now, remove a
message with or without an NDR, read a message from its store)."""
from django.db import transaction

from exchange_console.queues.schemas import MESSAGE, QUEUE
from exchange_console.lib.errors import ParameterError
from exchange_console.services import ConfigurationError, audited, authorize
from transport import dispatch
from transport.queue import state
from transport.queue.models import DeliveryQueue, QueuedMessage


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
        state.retry_queue_now(queue)
    if resubmit:
        return _queue_action("Retry", queue, change, then=resubmit_now, values={"Resubmit": True})
    return _queue_action("Retry", queue, change, then=deliver_now)


def suspend_queue(queue):
    return _queue_action("Suspend", queue, lambda: state.suspend_queue(queue))


def resume_queue(queue):
    return _queue_action("Resume", queue, lambda: state.resume_queue(queue), then=deliver_now)


def _message_action(verb, message, change, values=None, then=None):
    def run():
        authorize(verb, MESSAGE, message)
        change()
        if then:
            transaction.on_commit(then)
        return QueuedMessage.objects.select_related("queue__server").get(pk=message.pk)
    return audited(verb, MESSAGE, message, values or {}, run)


def suspend_message(message):
    return _message_action("Suspend", message, lambda: state.suspend_message(message))


def resume_message(message):
    return _message_action("Resume", message, lambda: state.resume_message(message),
                           then=lambda: deliver_now(message.queue))


def remove_message(message, with_ndr):
    """Remove-Message: PendingRemove now; the owning server removes it (and sends the NDR) from its store."""
    def then():
        dispatch.remove_message(message.queue.server.name, message.pk, with_ndr)
    return _message_action("Remove", message, lambda: state.mark_pending_remove(message), {"WithNDR": with_ndr},
                           then)


def export_message(message):
    """Export-Message: the message as its server's queue store holds it (headers and body, as bytes), read by
    that server's worker. Its content is more than Get-Message shows, so it takes the queue rights (Exchange's
    Transport Queues role) and is audited: an export the server couldn't answer is recorded as failed."""
    exported = []

    def read():
        try:
            exported.append(dispatch.read_message(message.queue.server.name, message.store_id))
        except dispatch.MessageUnavailable as error:
            raise ConfigurationError([ParameterError(
                "Identity", f"The message '{message.identity}' couldn't be exported: {error}")]) from None
    _message_action("Export", message, read)
    return exported[0]


def deliver_now(queue):
    dispatch.deliver_queue(queue.server.name, queue.pk)


def resubmit_now(queue):
    dispatch.resubmit_queue(queue.server.name, queue.pk)
