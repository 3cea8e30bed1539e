"""The transport worker: a Celery worker bound to one transport server's queue.

Its bootstep builds the server's runtime (transport.runtime), registers it on the Celery app for the tasks, and
starts the receive process (transport.receive.process), which runs the receive listeners. The configuration is
read from the database at start and on every reload_configuration task (in a Celery pool thread): the runtime
swaps in its send side and hands the receive side to that process, which swaps it in too. Every
TRANSPORT_HEARTBEAT_INTERVAL seconds the worker checks its broker connection and records it with a heartbeat
next to the listener status (what `manage.py transport_health` and the console read); with
TRANSPORT_METRICS_PORT it serves its metrics (transport.metrics).
"""
import logging
import threading
from datetime import datetime, timezone

from celery import bootsteps
from django.conf import settings

from transport import dispatch
from transport.metrics import MetricsEndpoint
from transport.receive.process import ReceiveProcess
from transport.runtime import TransportRuntime

log = logging.getLogger("transport")

RECOVERY_BATCH = 500


class ReceiveListeners:
    """The worker's side of its server's listeners: have the receive process run the receive side of each
    configuration the runtime swaps in, record the bindings' status."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.server_name = runtime.server_name
        self._reload_lock = threading.Lock()   # also orders the status writes: the last one is the truth
        self._running = None   # (snapshot, {binding: status}) the receive process last reported
        self._recorded = None  # what was last recorded, which each heartbeat records again, newer
        self.broker = "not checked yet"   # until the first heartbeat, at once
        self.process = ReceiveProcess(
            # A receive process started again may have accepted messages it had not handed on yet.
            on_restart=self._restarted, on_exit=self._not_listening,
            max_restart_delay=settings.RECEIVE_PROCESS_MAX_RESTART_DELAY)
        runtime.on_reload(self.apply)

    def _restarted(self):
        self.runtime.apply_again(self.apply)
        recover_queued_messages(self.runtime)

    def apply(self, configuration):
        """Have the receive process run the receive side of `configuration`; record what it reports."""
        snapshot = configuration.receive
        with self._reload_lock:
            status = self.process.apply(snapshot)
            if status is None:
                log.info("Transport server %s: the receive process is not running; it gets the configuration "
                         "when it starts again", snapshot.name)
                return snapshot
            self._running = snapshot, status
            self._record(snapshot, status)
            log.info("Transport server %s: receive connectors %s; bindings %s", snapshot.name,
                     ", ".join(c.identity for c in snapshot.enabled_connectors()) or "none",
                     ", ".join(f"{binding} {state}" for binding, state in status.items()) or "none",
                     extra={"server": snapshot.name})
            return snapshot

    def running(self):
        """(snapshot, {binding: status}) the receive process last reported, or None."""
        return self._running

    def heartbeat(self, broker):
        """The worker is alive and its broker `Connected` (or why not): recorded with the listener status."""
        with self._reload_lock:
            self.broker = broker
            if self._recorded is not None:
                self._record(*self._recorded)

    def _record(self, snapshot, status):
        self._recorded = snapshot, status
        record_listener_status(snapshot, status, {
            "heartbeat": _now(), "heartbeat_interval": settings.TRANSPORT_HEARTBEAT_INTERVAL, "broker": self.broker})

    def _not_listening(self, exitcode, delay):
        """The receive process exited: until it is started again, no binding listens."""
        state = f"Not listening: the receive process exited (code {exitcode}); starting it again in {delay} s"
        with self._reload_lock:
            if self._running is not None:
                snapshot, status = self._running
                self._record(snapshot, dict.fromkeys(status, state))

    def stop(self):
        self.process.stop()
        with self._reload_lock:
            self._recorded = None   # no more heartbeats
            if self._running is not None:   # no binding is reported: "Not running", as before a worker starts
                record_listener_status(self._running[0], {})


def record_listener_status(snapshot, status, health=None):
    """What the console and the shell show: each binding's state, and which configuration is running; with
    `health` (heartbeat, its interval, the broker's state) while the worker runs."""
    from exchange_console.organization.models import TransportServer

    TransportServer.objects.filter(name=snapshot.name).update(receive_listener_status={
        "bindings": status, "updated": _now(),
        "configuration": snapshot.configuration_stamp.isoformat(timespec="microseconds"), **(health or {})})


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Heartbeat:
    """Every TRANSPORT_HEARTBEAT_INTERVAL seconds: is the broker reachable? Recorded with a heartbeat, so a
    worker that was killed shows as stale instead of leaving "Listening" behind."""

    def __init__(self, app, listeners):
        self.app, self.listeners = app, listeners
        self._stopping = threading.Event()
        threading.Thread(target=self._run, name="transport-heartbeat", daemon=True).start()

    def _run(self):
        from django.db import connection

        while True:
            try:
                self.listeners.heartbeat(self.broker_state())
            except Exception:
                log.exception("Could not record the heartbeat", extra={"server": self.listeners.server_name})
            finally:
                connection.close()   # a database that went away is connected to again at the next beat
            if self._stopping.wait(settings.TRANSPORT_HEARTBEAT_INTERVAL):
                return

    def broker_state(self):
        try:
            with self.app.connection_for_write() as broker:
                broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
        except Exception as error:
            return f"Unreachable: {error}"
        return "Connected"

    def stop(self):
        self._stopping.set()


def recover_queued_messages(runtime):
    """Messages accepted before a crash or stop are still in the store: hand them on again (and forget those that
    a worker killed mid-delivery had sent)."""
    runtime.queue_manager.forget_sent()
    message_ids = runtime.store.ids()
    for start in range(0, len(message_ids), RECOVERY_BATCH):
        dispatch.categorize_messages(runtime.server_name, message_ids[start:start + RECOVERY_BATCH])
    if message_ids:
        log.info("Handed %d queued message(s) to the categorizer again", len(message_ids))


def start_metrics(listeners, registry):
    """The metrics endpoint, or None if its port can't open: mail goes on flowing without it (Prometheus
    shows the target down)."""
    address, port = settings.TRANSPORT_METRICS_ADDRESS, settings.TRANSPORT_METRICS_PORT
    try:
        return MetricsEndpoint(listeners, registry, address, port)
    except OSError as error:
        log.error("Metrics can't listen on %s:%d: %s", address, port, error.strerror or error,
                  extra={"server": listeners.server_name})
        return None


class TransportServerStep(bootsteps.StartStopStep):
    """Builds the server's runtime and starts its receive process when the worker starts; stops them when the
    worker stops."""

    def __init__(self, worker, transport_server=None, **options):
        super().__init__(worker, **options)
        self.server_name = transport_server
        self.listeners = self.heartbeat = self.metrics = None

    def start(self, worker):
        if not self.server_name:
            return
        runtime = TransportRuntime(self.server_name)
        worker.app.transport_runtimes = {runtime.server_name.lower(): runtime}   # what the tasks run on
        self.listeners = ReceiveListeners(runtime)
        self.listeners.apply(runtime.configuration)
        recover_queued_messages(runtime)
        self.heartbeat = Heartbeat(worker.app, self.listeners)
        if settings.TRANSPORT_METRICS_PORT:
            self.metrics = start_metrics(self.listeners, runtime.metrics.registry)

    def stop(self, worker):
        for part in (self.metrics, self.heartbeat, self.listeners):
            if part is not None:
                part.stop()
        worker.app.transport_runtimes = {}
