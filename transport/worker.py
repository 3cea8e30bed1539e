"""The transport worker: a Celery worker bound to one transport server's queue.

Its bootstep runs an asyncio event loop in a thread with the server's receive listeners. The configuration
is read from the database into an immutable snapshot at start and on every reload_configuration task (which
runs in a Celery pool thread, never on the event loop); the loop only swaps in the result.
"""
import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from celery import bootsteps

from transport.receive.listeners import ReceiveService
from transport.receive.runtime import build_runtime
from transport.snapshot import build_snapshot

log = logging.getLogger("transport")

APPLY_TIMEOUT = 30
ACCEPT_THREADS = 32
SWITCH_INTERVAL = 0.0005


class ReceiveLoop:
    """The event loop thread of this process and the receive service on it."""

    def __init__(self):
        # The SMTP sessions share the interpreter with Celery's task threads (categorizer, delivery): hand the
        # GIL over more often so that a busy task thread doesn't hold up every session's next reply.
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.loop = asyncio.new_event_loop()
        # Durable acceptance waits on fsync: many in flight at once let the file system commit them together.
        self.loop.set_default_executor(ThreadPoolExecutor(ACCEPT_THREADS, thread_name_prefix="smtp-accept"))
        self.service = ReceiveService(self.loop)
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-receive", daemon=True)
        self.thread.start()
        self._reload_lock = threading.Lock()

    def reload(self, server_name):
        """Build the snapshot here (ORM), apply it on the loop, and record the binding status."""
        with self._reload_lock:
            snapshot = build_snapshot(server_name)
            runtime = build_runtime(snapshot, previous=self.service.runtime)
            status = self.run(self.service.apply(runtime))
            record_listener_status(snapshot, status)
            log.info("Transport server %s: receive connectors %s; bindings %s", snapshot.name,
                     ", ".join(c.identity for c in snapshot.enabled_connectors()) or "none",
                     ", ".join(f"{binding} {state}" for binding, state in status.items()) or "none")
            return runtime

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(APPLY_TIMEOUT)

    def stop(self):
        self.run(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


_receive_loop = None


def reload_running_configuration(server_name):
    if _receive_loop is None:  # a reload that reached a process without listeners (e.g. eager mode)
        return build_snapshot(server_name)
    return _receive_loop.reload(server_name).snapshot


def record_listener_status(snapshot, status):
    """What the console and the shell show: each binding's state, and which configuration is running."""
    from exchange_console.organization.models import TransportServer

    TransportServer.objects.filter(name=snapshot.name).update(receive_listener_status={
        "bindings": status, "updated": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
        "configuration": snapshot.configuration_stamp.isoformat(timespec="microseconds")})


def recover_queued_messages(runtime):
    """Messages accepted before a crash or stop are still in the store: hand them on again."""
    from transport.tasks import hand_to_categorizer

    message_ids = runtime.store.ids()
    for message_id in message_ids:
        hand_to_categorizer(runtime.snapshot.name, message_id)
    if message_ids:
        log.info("Handed %d queued message(s) to the categorizer again", len(message_ids))


class TransportServerStep(bootsteps.StartStopStep):
    """Starts the receive listeners of the server when the worker starts; stops them when it stops."""

    def __init__(self, worker, transport_server=None, **options):
        super().__init__(worker, **options)
        self.server_name = transport_server

    def start(self, worker):
        global _receive_loop
        if not self.server_name:
            return
        logging.getLogger("mail.log").setLevel(logging.WARNING)   # aiosmtpd's per-line chatter
        _receive_loop = ReceiveLoop()
        runtime = _receive_loop.reload(self.server_name)
        recover_queued_messages(runtime)

    def stop(self, worker):
        global _receive_loop
        if _receive_loop is not None:
            _receive_loop.stop()
            _receive_loop = None
