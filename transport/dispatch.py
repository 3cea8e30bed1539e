"""The one way work is handed to a transport server: Celery tasks sent by name to the server's own queue
(transport.<server>). The console, the receive process and the transport's own parts all send through here,
and nothing here imports transport.tasks (the tasks are thin entry points that call into the transport, never
the other way round)."""
import logging

from exchange_console.celery import app
from exchange_console.lib.servers import celery_queue
from transport.batching import Batcher

log = logging.getLogger(__name__)

TASKS = "transport.tasks."
EDGESYNC_TASKS = "exchange_console.edge.tasks."


def _send(task, server_name, *args, countdown=None, **options):
    """Fire and forget unless options say ignore_result=False: no result is kept, and the sender doesn't wait
    for one (with a Redis result backend, it would otherwise listen for every task's result, never to come).
    `task`: a transport task's name, or a full task name."""
    options.setdefault("ignore_result", True)
    name = task if "." in task else TASKS + task
    return app.send_task(name, args=list(args), queue=celery_queue(server_name), countdown=countdown, **options)


def reload_configuration(server_name):
    """A configuration change affecting the server committed: its worker reads it and swaps it in."""
    _send("reload_configuration", server_name, server_name)


def categorize_messages(server_name, message_ids):
    """Messages were durably accepted into the server's store: route them."""
    _send("categorize_messages", server_name, server_name, list(message_ids))


def deliver_queue(server_name, queue_id, due=None):
    """A delivery attempt of one of the server's queues: now, or at `due` (a retry)."""
    if due is None:
        _send("deliver_queue", server_name, server_name, queue_id)
    else:
        from django.utils import timezone

        _send("deliver_queue", server_name, server_name, queue_id, due.isoformat(),
              countdown=(due - timezone.now()).total_seconds())


def resubmit_queue(server_name, queue_id):
    _send("resubmit_queue", server_name, server_name, queue_id)


def transfer_message(server_name, envelope_json, content_b64, connector_name, recipients):
    """Recipients routed to a connector that server_name is a source server of: it stores and queues them."""
    _send("transfer_message", server_name, server_name, envelope_json, content_b64, connector_name,
          list(recipients))


def remove_message(server_name, message_id, with_ndr):
    _send("remove_message", server_name, server_name, message_id, with_ndr)


def synchronize_edges(server_name, wait=False, timeout=None):
    """Start-EdgeSynchronization: the Hub pushes to the Edges of its site now; with `wait`, its results (one
    per Edge and kind), or ServerUnavailable as read_message raises it."""
    if not wait:
        return _send(EDGESYNC_TASKS + "synchronize", server_name, server_name)
    return _ask(EDGESYNC_TASKS + "synchronize", server_name, [], ServerUnavailable, "synchronize its Edges",
                timeout)


def test_edge_synchronization(server_name, exclude_recipients=False, timeout=None):
    """Test-EdgeSynchronization as the Hub sees it: its answer (one row per Edge of its site). Raises
    ServerUnavailable as read_message does."""
    return _ask(EDGESYNC_TASKS + "test_synchronization", server_name, [exclude_recipients], ServerUnavailable,
                "compare its Edges", timeout)


def read_message(server_name, store_id, timeout=None):
    """The content of a message in the server's store, as its worker reads it (the console never opens a
    server's disk). Raises MessageUnavailable, saying why, when the worker isn't running, doesn't answer within
    `timeout` seconds (settings.CONSOLE_READ_TIMEOUT) or no longer has the message."""
    import base64

    answer = _ask("read_message", server_name, [store_id], MessageUnavailable, "read the message", timeout)
    if answer is None:
        raise MessageUnavailable(f"{server_name} no longer has the message in its queue store")
    return base64.b64decode(answer)


def read_logs(server_name, request, timeout=None):
    """The answer of the server's worker to a request for its message tracking or protocol logs (a dict; see
    transport.logs.reading.answer): a dict with the rows, read on the server (the console never opens a server's
    disk). Raises LogsUnavailable, saying why, as read_message does."""
    return _ask("read_logs", server_name, [request], LogsUnavailable, "read its logs", timeout)


def _ask(task, server_name, args, unavailable, what, timeout=None):
    """Send a read to the server's worker and wait for its answer; `unavailable` (a ServerUnavailable) says why
    there is none: the worker isn't running, doesn't answer within `timeout` seconds
    (settings.CONSOLE_READ_TIMEOUT), or couldn't do `what` (its task raised)."""
    from celery.exceptions import TimeoutError as NoAnswer
    from django.conf import settings

    timeout = settings.CONSOLE_READ_TIMEOUT if timeout is None else timeout
    if stopped := _not_running(server_name):
        raise unavailable(stopped)
    try:
        # Expires with the wait: a worker that comes back later doesn't read for a console that gave up.
        result = _send(task, server_name, server_name, *args, ignore_result=False, expires=timeout)
    except Exception as error:   # kombu's and the broker transport's own errors
        raise unavailable(f"The request couldn't be sent to {server_name}: {error}") from error
    try:
        return result.get(timeout=timeout, disable_sync_subtasks=False)
    except NoAnswer:
        raise unavailable(f"{server_name} didn't answer within {timeout:g} seconds") from None
    except Exception as error:   # what the worker's task raised, as the result backend carried it back
        raise unavailable(f"{server_name} couldn't {what}: {error}") from error
    finally:
        _forget(result)


def _not_running(server_name):
    """Why the server's worker can't answer a read now (it stopped, or its heartbeats did), or '' when it may:
    asking a stopped worker would only make the console wait out the timeout."""
    from exchange_console.organization.models import TransportServer   # not at import: the receive process
                                                                       # imports this module before Django's setup
    server = TransportServer.objects.filter(name__iexact=server_name).first()
    if server is None:
        return f"There's no transport server {server_name}"
    if "heartbeat" not in server.receive_listener_status or server.heartbeat_lost():
        return f"{server.name}: {server.worker_health}"
    return ""


def _forget(result):
    """Drop the answer from the result backend once read. Only tidying: an answer that never came has nothing to
    drop (the file backend refuses to delete what isn't there), and whatever stays expires with
    CELERY_RESULT_EXPIRES, so a failure here never costs the reader the content it got."""
    try:
        result.forget()
    except FileNotFoundError:
        pass
    except Exception:   # the result backend's own errors (Redis unreachable, ...)
        log.warning("Could not forget the answer %s of a read from a server's disk", result.id, exc_info=True)


class ServerUnavailable(Exception):
    """Why a server couldn't answer a read of its disk, as a sentence naming the server that the page or the
    shell shows after its own words."""

    def __init__(self, reason):
        super().__init__(reason if reason.endswith(".") else reason + ".")


class MessageUnavailable(ServerUnavailable):
    """Why a message's content couldn't be read."""


class LogsUnavailable(ServerUnavailable):
    """Why a server's logs couldn't be read."""


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
            categorize_messages(self.server_name, message_ids)
        except Exception:  # stored durably: the worker hands them on again when it restarts
            log.exception("Could not hand %d message(s) to the categorizer", len(message_ids))
