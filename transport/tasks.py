"""Celery tasks that run on a transport server's own queue (transport.<server>)."""
import logging

from celery import shared_task

from transport.batching import Batcher

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def reload_configuration(server_name):
    """A configuration change affecting this server committed: rebuild the snapshot the runtime reads."""
    from transport.worker import reload_running_configuration

    reload_running_configuration(server_name)


@shared_task(ignore_result=True)
def categorize_messages(server_name, message_ids):
    """Messages were durably accepted into server_name's queue store (transport.queue.store): route them."""
    from transport.categorizer import categorize

    categorize(server_name, message_ids)


@shared_task(ignore_result=True)
def deliver_queue(server_name, queue_id, retry_at=None):
    """Deliver what is due in one next-hop queue of server_name (a source server of its connector);
    retry_at: the retry time this task was scheduled for (None: sent for new mail)."""
    from transport.delivery.engine import deliver_queue as deliver

    deliver(server_name, queue_id, retry_at)


@shared_task(ignore_result=True)
def resubmit_queue(server_name, queue_id):
    """Retry-Queue -Resubmit: route the queue's waiting messages again, then deliver what stays."""
    from transport.delivery.engine import resubmit

    resubmit(server_name, queue_id)


# Acknowledged only once the message is in this server's store: a worker killed before that gets it again.
@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def transfer_message(server_name, envelope_json, content_b64, connector_name, recipients):
    """Another server routed recipients to a connector sourced here: store the message, then queue it."""
    from transport.categorizer import accept_transfer

    accept_transfer(server_name, envelope_json, content_b64, connector_name, recipients)


def hand_to_categorizer(server_name, *message_ids):
    """Send categorize_messages to the server's own queue (also used to recover the store at start)."""
    categorize_messages.apply_async((server_name, list(message_ids)), queue=f"transport.{server_name.lower()}")


class CategorizerHandoff(Batcher):
    """Hands accepted messages to the categorizer in batches: one task for what arrived within BATCH_WINDOW
    (sooner once BATCH_SIZE are waiting), so the broker and the database see one round trip per batch
    instead of one per message."""

    BATCH_WINDOW = 0.1
    BATCH_SIZE = 50

    def __init__(self, server_name):
        super().__init__(self._send, "categorizer-handoff", self.BATCH_WINDOW, self.BATCH_SIZE)
        self.server_name = server_name

    def _send(self, message_ids):
        try:
            hand_to_categorizer(self.server_name, *message_ids)
        except Exception:  # stored durably: the worker hands them on again when it restarts
            log.exception("Could not hand %d message(s) to the categorizer", len(message_ids))


@shared_task(ignore_result=True)
def remove_message(server_name, message_id, with_ndr):
    """Remove-Message for a message in one of this server's queues (the store and its NDR are here)."""
    from transport.delivery.removal import remove_message as remove

    remove(server_name, message_id, with_ndr)
