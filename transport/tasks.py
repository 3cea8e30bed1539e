"""Celery tasks that run on a transport server's own queue (transport.<server>): thin entry points into the
worker's runtime (transport.runtime.TransportRuntime), which its bootstep registers on the Celery app. They are
sent by name through transport.dispatch; nothing in the transport imports this module."""
import base64
import logging

from celery import shared_task

from transport.logs import reading

log = logging.getLogger(__name__)


def running(task, server_name):
    """The runtime of `server_name` in this worker, or None (a task that reached a worker of another server, or
    a process without one)."""
    runtime = getattr(task.app, "transport_runtimes", {}).get(server_name.lower())
    if runtime is None:
        log.error("Task %s for transport server %s reached a worker that doesn't run it", task.name, server_name)
    return runtime


def answering(task, server_name):
    """The runtime of `server_name`, for a task whose answer the console waits for: a worker that doesn't run
    the server says so, rather than answering for it (that a message is gone, that its logs are empty)."""
    runtime = running(task, server_name)
    if runtime is None:
        raise LookupError(f"the worker that took the request doesn't run {server_name}")
    return runtime


@shared_task(bind=True, ignore_result=True)
def reload_configuration(self, server_name):
    """A configuration change affecting this server committed: read it and swap it in."""
    if runtime := running(self, server_name):
        runtime.reload()


@shared_task(bind=True, ignore_result=True)
def categorize_messages(self, server_name, message_ids):
    """Messages were durably accepted into the server's queue store: route them."""
    if runtime := running(self, server_name):
        runtime.categorizer.categorize(message_ids)


@shared_task(bind=True, ignore_result=True)
def deliver_queue(self, server_name, queue_id, retry_at=None):
    """Deliver what is due in one next-hop queue; retry_at: the retry time this task was scheduled for (None:
    sent for new mail)."""
    if runtime := running(self, server_name):
        runtime.queue_manager.deliver(queue_id, retry_at)


@shared_task(bind=True, ignore_result=True)
def resubmit_queue(self, server_name, queue_id):
    """Retry-Queue -Resubmit: route the queue's waiting messages again, then deliver what stays."""
    if runtime := running(self, server_name):
        runtime.queue_manager.resubmit(queue_id)


# Acknowledged only once the message is in this server's store: a worker killed before that gets it again.
@shared_task(bind=True, ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def transfer_message(self, server_name, envelope_json, content_b64, connector_name, recipients):
    """Another server routed recipients to a connector sourced here: store the message, then queue it."""
    if runtime := running(self, server_name):
        runtime.categorizer.accept_transfer(envelope_json, content_b64, connector_name, recipients)


@shared_task(bind=True, ignore_result=True)
def remove_message(self, server_name, message_id, with_ndr):
    """Remove-Message for a message in one of this server's queues (the store and its NDR are here)."""
    if runtime := running(self, server_name):
        runtime.queue_manager.remove(message_id, with_ndr)


@shared_task(bind=True, ignore_result=False)
def read_message(self, server_name, store_id):
    """The console reads a message's content (Queue Viewer, Export-Message): base64, or None when the store no
    longer has it."""
    runtime = answering(self, server_name)
    try:
        return base64.b64encode(runtime.store.load(store_id)[1]).decode()
    except FileNotFoundError:
        return None


@shared_task(bind=True, ignore_result=False)
def read_logs(self, server_name, request):
    """The console reads this server's message tracking or protocol logs (Message Tracking, Protocol Logs, the
    Queue Viewer's message history, Get-MessageTrackingLog): the answer to `request`, in JSON, bounded."""
    return reading.answer(request, reading.LogFolders.of(answering(self, server_name).configuration))
