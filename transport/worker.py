"""The transport worker: a Celery worker bound to one transport server's queue.

Its bootstep starts the server's receive process (transport.receive.process), which runs the receive
listeners. The configuration is read from the database into an immutable snapshot at start and on every
reload_configuration task (in a Celery pool thread) and handed to that process, which swaps it in.
"""
import logging
import threading
from datetime import datetime, timezone

from celery import bootsteps
from django.conf import settings

from transport.queue.store import MessageStore
from transport.receive.process import ReceiveProcess
from transport.snapshot import build_snapshot

log = logging.getLogger("transport")

RECOVERY_BATCH = 500


class ReceiveListeners:
    """The worker's side of its server's listeners: read the configuration, have the receive process run it,
    record the bindings' status."""

    def __init__(self, server_name):
        self.server_name = server_name
        self._reload_lock = threading.Lock()   # also orders the status writes: the last one is the truth
        self._running = None   # (snapshot, {binding: status}) the receive process last reported
        self.process = ReceiveProcess(
            # A receive process started again may have accepted messages it had not handed on yet.
            on_restart=lambda: recover_queued_messages(self.reload()), on_exit=self._not_listening,
            max_restart_delay=settings.RECEIVE_PROCESS_MAX_RESTART_DELAY)

    def reload(self):
        with self._reload_lock:
            snapshot = build_snapshot(self.server_name)
            status = self.process.apply(snapshot)
            if status is None:
                log.info("Transport server %s: the receive process is not running; it gets the configuration "
                         "when it starts again", snapshot.name)
                return snapshot
            self._running = snapshot, status
            record_listener_status(snapshot, status)
            log.info("Transport server %s: receive connectors %s; bindings %s", snapshot.name,
                     ", ".join(c.identity for c in snapshot.enabled_connectors()) or "none",
                     ", ".join(f"{binding} {state}" for binding, state in status.items()) or "none")
            return snapshot

    def _not_listening(self, exitcode, delay):
        """The receive process exited: until it is started again, no binding listens."""
        state = f"Not listening: the receive process exited (code {exitcode}); starting it again in {delay} s"
        with self._reload_lock:
            if self._running is not None:
                snapshot, status = self._running
                record_listener_status(snapshot, dict.fromkeys(status, state))

    def stop(self):
        self.process.stop()
        with self._reload_lock:
            if self._running is not None:   # no binding is reported: "Not running", as before a worker starts
                record_listener_status(self._running[0], {})


_listeners = None


def reload_running_configuration(server_name):
    if _listeners is None:  # a reload that reached a process without listeners (e.g. eager mode)
        return build_snapshot(server_name)
    return _listeners.reload()


def record_listener_status(snapshot, status):
    """What the console and the shell show: each binding's state, and which configuration is running."""
    from exchange_console.organization.models import TransportServer

    TransportServer.objects.filter(name=snapshot.name).update(receive_listener_status={
        "bindings": status, "updated": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "configuration": snapshot.configuration_stamp.isoformat(timespec="microseconds")})


def recover_queued_messages(snapshot):
    """Messages accepted before a crash or stop are still in the store: hand them on again."""
    from transport.tasks import hand_to_categorizer

    message_ids = MessageStore(snapshot.queue_directory).ids()
    for start in range(0, len(message_ids), RECOVERY_BATCH):
        hand_to_categorizer(snapshot.name, *message_ids[start:start + RECOVERY_BATCH])
    if message_ids:
        log.info("Handed %d queued message(s) to the categorizer again", len(message_ids))


class TransportServerStep(bootsteps.StartStopStep):
    """Starts the receive process of the server when the worker starts; stops it when the worker stops."""

    def __init__(self, worker, transport_server=None, **options):
        super().__init__(worker, **options)
        self.server_name = transport_server

    def start(self, worker):
        global _listeners
        if not self.server_name:
            return
        _listeners = ReceiveListeners(self.server_name)
        recover_queued_messages(_listeners.reload())

    def stop(self, worker):
        global _listeners
        if _listeners is not None:
            _listeners.stop()
            _listeners = None
