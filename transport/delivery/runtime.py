"""Per-process state of the send side: the configuration snapshot (rebuilt when older than a second, so a
change is followed within one), logs, the queue store and outbound connection slots."""
import threading
import time
import uuid
from pathlib import Path

from transport.logs.protocol import ProtocolLog
from transport.queue.store import server_store
from transport.snapshot import build_send_snapshot

SNAPSHOT_MAX_AGE = 1.0

# Distinguishes this process's delivery attempts from those of a worker that died (see QueuedMessage.claim).
INSTANCE = uuid.uuid4().hex[:12]

_lock = threading.Lock()
_rebuilding = threading.Lock()
_snapshots, _stores, _tracking, _protocol_logs = {}, {}, {}, {}
_checked_data_dirs = set()


def send_snapshot(server_name, fresh=False):
    """The server's SendSnapshot, rebuilt when older than SNAPSHOT_MAX_AGE by one thread while the others
    go on with the previous one; fresh: rebuilt now (Retry-Queue -Resubmit routes by the configuration as it
    is when the administrator asks, and the deliveries that follow use the same)."""
    key = server_name.lower()
    with _lock:
        built, snapshot = _snapshots.get(key, (0.0, None))
    if snapshot is not None and not fresh:
        if time.monotonic() - built <= SNAPSHOT_MAX_AGE or not _rebuilding.acquire(blocking=False):
            return snapshot
    else:
        _rebuilding.acquire()
    try:
        snapshot = build_send_snapshot(server_name)
        with _lock:
            _snapshots[key] = (time.monotonic(), snapshot)
        _remove_client_certificate_files(snapshot.server.data_dir)
        return snapshot
    finally:
        _rebuilding.release()


def store(server_name):
    from django.conf import settings

    key = (server_name.lower(), str(settings.EXCHANGE_DATA_DIR))
    with _lock:
        if key not in _stores:
            _stores[key] = server_store(server_name)
        return _stores[key]


def tracking_log(server_name):
    """The message tracking log of the server; reopened when its settings change."""
    from transport.logs.tracking import MessageTrackingLog

    server = send_snapshot(server_name).server
    return _log_for(_tracking, server.name, server.tracking,
                    lambda: MessageTrackingLog(server.tracking, server.fqdn), lambda log: log._log.close())


def send_protocol_log(snapshot):
    """The SEND protocol log of the server (one writer per folder, shared by all sessions)."""
    settings = snapshot.server.send_protocol_log
    return _log_for(_protocol_logs, snapshot.server.name, settings,
                    lambda: ProtocolLog(settings, receive=False), lambda log: log._log.close())


def _log_for(logs, server_name, settings, open_log, close_log):
    """One open log per server (the logs keep their file open); a log whose settings changed is closed."""
    with _lock:
        current = logs.get(server_name)
        if current is None or current[0] != settings:
            if current is not None:
                close_log(current[1])
            current = logs[server_name] = (settings, open_log())
        return current[1]


def _remove_client_certificate_files(data_dir):
    """Older versions kept the client certificate of mutual TLS with its private key, in clear, in
    TransportRoles/ClientCertificate-*.pem (the key now stays in memory): such files go when this process first
    reads the server's send configuration."""
    if data_dir in _checked_data_dirs:
        return
    for path in (Path(data_dir) / "TransportRoles").glob("ClientCertificate-*"):   # .pem and unfinished .tmp
        path.unlink(missing_ok=True)
    _checked_data_dirs.add(data_dir)


class ConnectionSlots:
    """MaxOutboundConnections and MaxPerDomainOutboundConnections of this server's process. A delivery that
    finds no free slot is remembered: the next connection to close hands its queue back (see release), so
    mail waiting for a slot taken by another next hop goes out as soon as one frees."""

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


slots = ConnectionSlots()


class PendingDeliveries:
    """Queues for which this process sent a delivery task that hasn't started yet: new mail for such a queue
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


delivery_pending = PendingDeliveries()


class ScheduledRetries:
    """The earliest delayed delivery task this process has sent per queue: a later or equal retry needs no
    task of its own (the earlier one reschedules when it runs), so retries don't multiply with new mail."""

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


scheduled_retries = ScheduledRetries()
