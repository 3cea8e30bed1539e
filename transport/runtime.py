"""The runtime of one transport server's worker: the configuration it runs (swapped whole by a reload), its
queue store, its logs, its outbound connection slots, the delivery work it has scheduled, its metrics, and the
categorizer and queue manager that use them. The worker's bootstep builds one and passes it on; tests build
their own. Nothing of it lives in a module global."""
import logging
import threading
import uuid
from pathlib import Path

from transport.categorizer import Categorizer
from transport.delivery.smtp import ClientContexts
from transport.logs.protocol import ProtocolLog
from transport.logs.tracking import MessageTrackingLog
from transport.metrics import DeliveryMetrics
from transport.queue.manager import QueueManager
from transport.queue.state import QueueStatistics
from transport.queue.store import MessageStore
from transport.snapshot import build_configuration

log = logging.getLogger("transport")


class TransportRuntime:
    def __init__(self, server_name):
        # Tells this worker's delivery attempts from those of a worker that died (see queue.state.claim).
        self.instance = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        # Reloads run one at a time, each reading and swapping in whole: two reload tasks in two pool threads
        # could otherwise land in the opposite order to their reads, leaving the older configuration running.
        self._reload_lock = threading.Lock()
        self._configuration = build_configuration(server_name)
        self.server_name = self._configuration.name
        receive = self._configuration.receive
        self.store = MessageStore(receive.queue_directory, receive.queue_sync)
        self._tracking = self._send_protocol_log = None
        self._on_reload = []
        self.slots = ConnectionSlots()
        self.pending = PendingDeliveries()
        self.retries = ScheduledRetries()
        self.client_contexts = ClientContexts()
        self.metrics = DeliveryMetrics()
        self.queue_statistics = QueueStatistics()
        self.queue_manager = QueueManager(self)
        self.categorizer = Categorizer(self)
        _remove_client_certificate_files(self._configuration.send.server.data_dir)

    @property
    def configuration(self):
        """The ServerConfiguration running now; a caller keeps the one it read for the whole of its work."""
        return self._configuration

    @property
    def send(self):
        """The send side of the running configuration (what the categorizer, routing and delivery read)."""
        return self._configuration.send

    def reload(self):
        """Read the configuration again and swap it in, for the send side here and for whatever was registered
        with on_reload (the receive listeners). Pushed by the reload_configuration task; nothing polls."""
        with self._reload_lock:
            configuration = build_configuration(self.server_name)
            with self._lock:
                self._configuration = configuration
            for apply in self._on_reload:
                apply(configuration)
            return configuration

    def on_reload(self, apply):
        self._on_reload.append(apply)

    def apply_again(self, apply):
        """Hand the running configuration to `apply` once more (a receive process that started again), in turn
        with reloads: never an older configuration after a newer one."""
        with self._reload_lock:
            return apply(self._configuration)

    def tracking_log(self):
        """The message tracking log of the server, reopened when its settings change."""
        server = self.send.server
        return self._open_log("_tracking", server.tracking, lambda: MessageTrackingLog(server.tracking, server.fqdn))

    def send_protocol_log(self):
        """The SEND protocol log (one writer per folder, shared by every session), reopened when its settings
        change."""
        settings = self.send.server.send_protocol_log
        return self._open_log("_send_protocol_log", settings, lambda: ProtocolLog(settings, receive=False))

    def _open_log(self, attribute, settings, open_log):
        """The log kept in `attribute` as (settings, log); one whose settings changed is closed, a new one opened
        (the logs keep their file open)."""
        with self._lock:
            current = getattr(self, attribute)
            if current is None or current[0] != settings:
                if current is not None:
                    current[1].close()
                current = (settings, open_log())
                setattr(self, attribute, current)
            return current[1]

    def close(self):
        """The worker stops: its logs' files close."""
        with self._lock:
            for attribute in ("_tracking", "_send_protocol_log"):
                if getattr(self, attribute) is not None:
                    getattr(self, attribute)[1].close()
                    setattr(self, attribute, None)


def _remove_client_certificate_files(data_dir):
    """Older versions kept the client certificate of mutual TLS with its private key, in clear, in
    TransportRoles/ClientCertificate-*.pem (the key now stays in memory): such files go when a worker starts."""
    for path in (Path(data_dir) / "TransportRoles").glob("ClientCertificate-*"):   # .pem and unfinished .tmp
        path.unlink(missing_ok=True)


class ConnectionSlots:
    """MaxOutboundConnections and MaxPerDomainOutboundConnections of this worker. A delivery that finds no free
    slot is remembered: the next connection to close hands its queue back (see release), so mail waiting for a
    slot taken by another next hop goes out as soon as one frees."""

    def __init__(self):
        self._lock = threading.Lock()
        self._total = 0
        self._per_hop = {}
        self._waiting = set()

    def acquire(self, next_hop, total_limit, per_hop_limit, queue_id=None):
        """True when a connection may open; else `queue_id` waits for the next release."""
        with self._lock:
            in_hop = self._per_hop.get(next_hop, 0)
            if (total_limit is not None and self._total >= total_limit) or \
                    (per_hop_limit is not None and in_hop >= per_hop_limit):
                if queue_id is not None:
                    self._waiting.add(queue_id)
                return False
            self._total += 1
            self._per_hop[next_hop] = in_hop + 1
            return True

    def release(self, next_hop):
        """Returns the ids of the queues that waited for a slot (to deliver again now)."""
        with self._lock:
            self._total -= 1
            self._per_hop[next_hop] -= 1
            waiting, self._waiting = self._waiting, set()
            return waiting


class PendingDeliveries:
    """Queues for which this worker sent a delivery task that hasn't started yet: new mail for such a queue
    needs no further task (that one will claim it), which keeps the broker out of the per-message path."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queue_ids = set()

    def add(self, queue_id):
        """True when the caller must send the task (none is pending)."""
        with self._lock:
            if queue_id in self._queue_ids:
                return False
            self._queue_ids.add(queue_id)
            return True

    def started(self, queue_id):
        with self._lock:
            self._queue_ids.discard(queue_id)


class ScheduledRetries:
    """The earliest delayed delivery task this worker has sent per queue: a later or equal retry needs no task
    of its own (the earlier one reschedules when it runs), so retries don't multiply with new mail."""

    def __init__(self):
        self._lock = threading.Lock()
        self._due = {}

    def schedule(self, queue_id, due):
        """True when the caller must send a delayed task for `due` (an ISO timestamp)."""
        with self._lock:
            current = self._due.get(queue_id)
            if current is not None and current <= due:
                return False
            self._due[queue_id] = due
            return True

    def started(self, queue_id, due):
        with self._lock:
            if self._due.get(queue_id) == due:
                del self._due[queue_id]
