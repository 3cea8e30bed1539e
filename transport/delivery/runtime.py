"""Per-process state of the send side: the configuration snapshot (rebuilt when older than a second, so a
change is followed within one), logs, the queue store, the client certificate file and outbound connection
slots."""
import os
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
_snapshots, _stores, _tracking, _protocol_logs = {}, {}, {}, {}


def send_snapshot(server_name):
    key = server_name.lower()
    with _lock:
        built, snapshot = _snapshots.get(key, (0.0, None))
    if snapshot is None or time.monotonic() - built > SNAPSHOT_MAX_AGE:
        snapshot = build_send_snapshot(server_name)
        with _lock:
            _snapshots[key] = (time.monotonic(), snapshot)
    return snapshot


def store(server_name):
    from django.conf import settings

    key = (server_name.lower(), str(settings.EXCHANGE_DATA_DIR))
    with _lock:
        if key not in _stores:
            _stores[key] = server_store(server_name)
        return _stores[key]


def tracking_log(server_name):
    from exchange_console.organization.models import TransportServer
    from transport.logs.tracking import open_tracking_log

    key = server_name.lower()
    with _lock:
        found = _tracking.get(key)
    if found is None or time.monotonic() - found[0] > SNAPSHOT_MAX_AGE:  # TransportServer settings may change
        log = open_tracking_log(TransportServer.objects.get(name__iexact=server_name))
        found = (time.monotonic(), log)
        with _lock:
            _tracking[key] = found
    return found[1]


def send_protocol_log(snapshot):
    """The SEND protocol log of the server (one writer per folder, shared by all sessions)."""
    settings = snapshot.server.send_protocol_log
    with _lock:
        if settings not in _protocol_logs:
            _protocol_logs[settings] = ProtocolLog(settings, receive=False)
        return _protocol_logs[settings]


def certificate_file(snapshot):
    """The server's certificate and key as one PEM file (ssl loads client certificates from files only),
    readable by the owner alone, rewritten when the certificate changes."""
    path = Path(snapshot.server.data_dir) / "TransportRoles" / "ClientCertificate.pem"
    data = snapshot.certificate_pem + b"\n" + snapshot.private_key_pem
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    return str(path)


class ConnectionSlots:
    """MaxOutboundConnections and MaxPerDomainOutboundConnections of this server's process. A delivery that
    finds no free slot leaves its messages to the connections already open, which drain the same queue."""

    def __init__(self):
        self._lock = threading.Lock()
        self._total = 0
        self._per_hop = {}

    def acquire(self, next_hop, total_limit, per_hop_limit):
        with self._lock:
            in_hop = self._per_hop.get(next_hop, 0)
            if (total_limit is not None and self._total >= total_limit) or \
                    (per_hop_limit is not None and in_hop >= per_hop_limit):
                return False
            self._total += 1
            self._per_hop[next_hop] = in_hop + 1
            return True

    def release(self, next_hop):
        with self._lock:
            self._total -= 1
            self._per_hop[next_hop] -= 1


slots = ConnectionSlots()
