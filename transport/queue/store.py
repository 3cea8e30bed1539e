"""The durable queue store of one transport server: the Queue folder in its data folder.

Each message is one file, <id>.msg: the envelope as one JSON line, then the content as received (with our
Received header). It is written to a temporary name, fsynced, renamed into place, and the directory is
fsynced, so a message whose acceptance was acknowledged survives a crash at any later moment; a message
exists (ids()) only once its file is complete. Directory syncs are shared: one fsync of the folder covers
every rename made before it started, so concurrent acceptances commit together.

A message too large to hold in memory arrives in a spool (<random>.spool, in the same folder) as the client
sends it; storing it copies the spool in the kernel after the envelope line and the headers.
"""
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

MESSAGE_SUFFIX, TEMP_SUFFIX, SPOOL_SUFFIX = ".msg", ".tmp", ".spool"


@dataclass(frozen=True)
class Envelope:
    message_id: str                # internal id, unique per store, sortable by arrival
    mail_from: str                 # '' for the null sender <>
    rcpt_tos: tuple
    received_connector: str        # receive connector identity 'SERVER\Name'
    client_ip: str
    client_hostname: str           # the HELO/EHLO name
    auth_user: str                 # '' when the session did not authenticate
    arrival_time: datetime         # aware, UTC
    size: int
    header_message_id: str
    subject: str
    mail_options: tuple = ()       # MAIL FROM parameters kept for relay (e.g. RET=HDRS, ENVID=...)
    rcpt_options: tuple = ()       # per recipient, the RCPT TO parameters (e.g. NOTIFY=...), same order

    def to_json(self):
        # Fields are flat (strings, numbers, tuples of them): a shallow dict, not asdict's deep copy.
        data = {field.name: getattr(self, field.name) for field in _FIELDS}
        data["arrival_time"] = self.arrival_time.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data = {key: value for key, value in data.items() if key in _FIELD_NAMES}
        data["arrival_time"] = datetime.fromisoformat(data["arrival_time"])
        for name in ("rcpt_tos", "mail_options"):
            data[name] = tuple(data.get(name, ()))
        data["rcpt_options"] = tuple(tuple(options) for options in data.get("rcpt_options", ()))
        return cls(**data)


_FIELDS = fields(Envelope)
_FIELD_NAMES = frozenset(field.name for field in _FIELDS)


def new_message_id():
    """Time-ordered and unique across processes: 16 hex digits of nanoseconds, then 8 random hex digits."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


class Spool:
    """Content written to a file of the queue folder as it arrives, not yet a message (no fsync: only the
    stored message must be durable)."""

    def __init__(self, root):
        self.path = Path(root) / (new_message_id() + SPOOL_SUFFIX)
        self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self.size = 0

    def write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self._descriptor, view):]
        self.size += len(data)

    def copy_to(self, descriptor):
        """Append the whole spool to the open file `descriptor`, without reading it into memory."""
        offset = 0
        while offset < self.size:
            copied = os.sendfile(descriptor, self._descriptor, offset, self.size - offset)
            if not copied:
                raise OSError(f"{self.path} is shorter than what was written to it")
            offset += copied

    def discard(self):
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SpooledContent:
    """Content to store whose end is in a spool: `head` (in memory), then the spool's bytes."""
    head: bytes
    spool: Spool

    def __len__(self):
        return len(self.head) + self.spool.size


class MessageStore:
    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._renames = self._synced = 0
        self._counter_lock, self._sync_lock = threading.Lock(), threading.Lock()

    def accept(self, content, **fields):
        """Durably store one message and return its envelope (with its new message_id). `fields`: the
        Envelope's, but message_id; arrival_time defaults to now."""
        return self.accept_group([(content, fields)])[0]

    def accept_group(self, messages):
        """Durably store messages [(content, fields)] together: each file fsynced, one folder sync for all.
        `content`: bytes, or SpooledContent. Returns their envelopes, in order."""
        envelopes = [_new_envelope(**fields) for _, fields in messages]
        written = [self._write_temporary(envelope, content) for envelope, (content, _) in zip(envelopes, messages)]
        for temporary, envelope in zip(written, envelopes):
            os.replace(temporary, self._path(envelope.message_id))
        self._sync_directory(self._count_rename())
        return envelopes

    def spool(self):
        """A new Spool in this store's folder (the stored message's copy stays on one file system)."""
        return Spool(self.root)

    def replace_envelope(self, envelope, **changes):
        """Rewrite a stored message's envelope atomically (e.g. fewer recipients left); returns it."""
        updated = replace(envelope, **changes)
        self._write(updated, self.load(envelope.message_id)[1])
        return updated

    def load(self, message_id):
        with open(self._path(message_id), "rb") as file:
            envelope = Envelope.from_json(file.readline().decode())
            return envelope, file.read()

    def envelope(self, message_id):
        """The envelope alone (the first line), for who doesn't need the content."""
        with open(self._path(message_id), "rb") as file:
            return Envelope.from_json(file.readline().decode())

    def remove(self, *message_ids):
        """Remove messages from the store. No folder sync: a removal lost to a power failure (not to a killed
        process: the unlink is the file system's at once) only brings a delivered message back, to be sent again,
        as Postfix's queue manager allows too; what must survive, an accepted message, is synced when stored."""
        for message_id in message_ids:
            self._path(message_id).unlink(missing_ok=True)

    def discard_spools(self):
        """Delete spools a receive process left when it died mid-DATA: they never became messages."""
        for path in self.root.glob("*" + SPOOL_SUFFIX):
            path.unlink(missing_ok=True)

    def ids(self):
        """Ids of the complete messages in the store, oldest first."""
        return sorted(path.name.removesuffix(MESSAGE_SUFFIX) for path in self.root.glob("*" + MESSAGE_SUFFIX))

    def _path(self, message_id):
        return self.root / (message_id + MESSAGE_SUFFIX)

    def _write(self, envelope, content):
        os.replace(self._write_temporary(envelope, content), self._path(envelope.message_id))
        self._sync_directory(self._count_rename())

    def _write_temporary(self, envelope, content):
        """The message in a file under a temporary name, fsynced; returns its path."""
        temporary = self._path(envelope.message_id).with_suffix(TEMP_SUFFIX)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            spooled = isinstance(content, SpooledContent)
            data = memoryview(envelope.to_json().encode() + b"\n" + (content.head if spooled else content))
            while data:   # one write, as a rule
                data = data[os.write(descriptor, data):]
            if spooled:
                content.spool.copy_to(descriptor)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return temporary

    def _count_rename(self):
        with self._counter_lock:
            self._renames += 1
            return self._renames

    def _sync_directory(self, ticket):
        """Make renames up to `ticket` durable; a sync that started after them already did."""
        with self._sync_lock:
            if self._synced >= ticket:
                return
            with self._counter_lock:
                covered = self._renames
            descriptor = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self._synced = covered


def _new_envelope(*, mail_from, rcpt_tos, received_connector, client_ip, client_hostname, auth_user, size,
                  header_message_id, subject, arrival_time=None, mail_options=(), rcpt_options=()):
    return Envelope(
        message_id=new_message_id(), mail_from=mail_from, rcpt_tos=tuple(rcpt_tos),
        received_connector=received_connector, client_ip=client_ip, client_hostname=client_hostname,
        auth_user=auth_user, arrival_time=arrival_time or datetime.now(timezone.utc), size=size,
        header_message_id=header_message_id, subject=subject, mail_options=tuple(mail_options),
        rcpt_options=tuple(tuple(options) for options in rcpt_options),
    )
