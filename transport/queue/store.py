"""The durable queue store of one transport server: the Queue folder in its data folder.

Each message is one file, <id>.msg: the envelope as one JSON line, then the content as received (with our
Received header). It is written to a temporary name, made durable, renamed into place, and the directory is
fsynced, so a message whose acceptance was acknowledged survives a crash at any later moment; a message
exists (ids()) only once its file is complete. Directory syncs are shared: one fsync of the folder covers
every rename made before it started, so concurrent acceptances commit together.

A group of messages is made durable in one of two ways (TRANSPORT_QUEUE_SYNC): "fsync", each file on its own,
or "syncfs" (Linux), one flush of the file system that holds the folder for the whole group. On ext4 every fsync
of a new file is a journal commit and a flush of the disk's cache, so twenty messages cost twenty of them; one
syncfs costs one, whatever the group's size, but it also writes whatever else is waiting on that file system.

The files of removed messages are kept (up to FREE_FILES_KEPT, in Free/) for new messages: creating a file
allocates an inode, which on ext4 without a journal scans past every inode freed in the last seconds (at a thousand
messages a second, a third of the receive process's time went there); renaming a kept file allocates none. A kept
file keeps its disk blocks too, when it is small (KEEP_BLOCKS_UP_TO): the new message is written over them and the
file cut to its length, instead of the blocks being freed at removal and allocated again at the next acceptance.

A message too large to hold in memory arrives in a spool (<random>.spool, in the same folder) as the client
sends it; storing it copies the spool in the kernel after the envelope line and the headers.
"""
import ctypes
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

MESSAGE_SUFFIX, TEMP_SUFFIX, SPOOL_SUFFIX = ".msg", ".tmp", ".spool"
FREE_FOLDER, FREE_FILES_KEPT = "Free", 1024
KEEP_BLOCKS_UP_TO = 64 * 1024   # bytes: a larger kept file is emptied (at most 64 MiB held in Free/)
RECOUNT_EVERY, RELIST_AFTER = 256, 0.5   # removals between counts of Free/; seconds before listing an empty one again
FSYNC, SYNCFS = "fsync", "syncfs"


def _libc():
    return ctypes.CDLL(None, use_errno=True)


SYNC_METHODS = (FSYNC, SYNCFS) if hasattr(_libc(), "syncfs") else (FSYNC,)


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


class FreeFiles:
    """Files of removed messages, kept in a folder for new ones. Every process using the store keeps and takes
    them: a file is taken by renaming it, which only one process can do. Nothing in the folder is a message: a
    kept file's old bytes are only ever read again as part of the new message written over them."""

    def __init__(self, folder):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self._lock = threading.Lock()
        self._names = []           # names listed in the folder and not tried yet by this process
        self._listed_empty = None  # when a listing last found none
        self._kept = None          # files in the folder: counted, plus those kept since
        self._removals = 0

    def keep(self, path):
        """Take `path` out of the store (an emptied file for later), or delete it when enough are kept."""
        if self._full():
            _unlink(path)
            return
        name = secrets.token_hex(8)
        kept = os.path.join(self.folder, name)
        try:
            os.rename(path, kept)   # first: the message leaves the store at once, whole
        except FileNotFoundError:
            return
        try:
            if os.stat(kept).st_size > KEEP_BLOCKS_UP_TO:
                os.truncate(kept, 0)
        except FileNotFoundError:   # already taken for a new message, which is written over it
            pass
        with self._lock:
            self._kept += 1
            if len(self._names) < FREE_FILES_KEPT:   # names another process took stay until tried: bounded
                self._names.append(name)

    def _full(self):
        with self._lock:
            if self._removals % RECOUNT_EVERY == 0:   # other processes take files: count them now and then
                self._kept = sum(1 for _ in os.scandir(self.folder))
            self._removals += 1
            return self._kept >= FREE_FILES_KEPT

    def take(self, path):
        """Rename a kept file to `path`; False when there is none."""
        while name := self._next_name():
            try:
                os.rename(os.path.join(self.folder, name), path)
                return True
            except FileNotFoundError:   # another process took it
                continue
        return False

    def _next_name(self):
        with self._lock:
            if not self._names and (self._listed_empty is None
                                    or time.monotonic() - self._listed_empty >= RELIST_AFTER):
                self._names = os.listdir(self.folder)
                self._listed_empty = None if self._names else time.monotonic()
            return self._names.pop() if self._names else None


class MessageStore:
    def __init__(self, root, sync=FSYNC):
        """sync: how a group of written messages is made durable (FSYNC or SYNCFS; see the module's text)."""
        if sync not in SYNC_METHODS:
            raise ValueError(f"queue sync method {sync!r} is not one of {', '.join(SYNC_METHODS)} here")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._prefix = os.path.join(str(self.root), "")   # paths as text: pathlib costs more than the file work
        self.sync = sync
        self._syncfs = _libc().syncfs if sync == SYNCFS else None   # looked up once, not for every group
        self.free_files = FreeFiles(self.root / FREE_FOLDER)
        self._renames = self._synced = 0
        self._counter_lock, self._sync_lock = threading.Lock(), threading.Lock()

    def accept(self, content, **fields):
        """Durably store one message and return its envelope (with its new message_id). `fields`: the
        Envelope's, but message_id; arrival_time defaults to now."""
        return self.accept_group([(content, fields)])[0]

    def accept_group(self, messages):
        """Durably store messages [(content, fields)] together: their files made durable, then renamed into
        place, one folder sync for all. `content`: bytes, or SpooledContent. Returns their envelopes, in order."""
        envelopes = [_new_envelope(**fields) for _, fields in messages]
        self._commit([(envelope, content) for envelope, (content, _) in zip(envelopes, messages)])
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
        """(envelope, content) of a stored message; FileNotFoundError when it isn't stored (or stopped being)."""
        return self._read(message_id, content=True)

    def envelope(self, message_id):
        """The envelope alone (the first line), for who doesn't need the content."""
        return self._read(message_id, content=False)[0]

    def _read(self, message_id, content):
        """A removed message's file is emptied and may serve a new message at once (FreeFiles): what was read is
        this message's only if its name still exists after the read (a removal renames first)."""
        path = self._path(message_id)
        with open(path, "rb") as file:
            if content:   # one read of the whole file, then split: cheaper than a line, then the rest
                line, _, data = file.read().partition(b"\n")
            else:
                line, data = file.readline(), None
        if not os.path.exists(path) or not line:
            raise FileNotFoundError(f"message {message_id} is no longer in the store")
        envelope = Envelope.from_json(line.decode())
        if envelope.message_id != message_id:
            raise FileNotFoundError(f"message {message_id} is no longer in the store")
        return envelope, data

    def remove(self, *message_ids):
        """Remove messages from the store. No folder sync: a removal lost to a power failure (not to a killed
        process: the rename is the file system's at once) only brings a delivered message back, to be sent again,
        as Postfix's queue manager allows too; what must survive, an accepted message, is synced when stored."""
        for message_id in message_ids:
            self.free_files.keep(self._path(message_id))

    def holds(self, message_id):
        return os.path.exists(self._path(message_id))

    def discard_spools(self):
        """Delete spools a receive process left when it died mid-DATA: they never became messages."""
        for path in self.root.glob("*" + SPOOL_SUFFIX):
            path.unlink(missing_ok=True)

    def ids(self):
        """Ids of the complete messages in the store, oldest first."""
        return sorted(path.name.removesuffix(MESSAGE_SUFFIX) for path in self.root.glob("*" + MESSAGE_SUFFIX))

    def _path(self, message_id):
        return self._prefix + message_id + MESSAGE_SUFFIX

    def _write(self, envelope, content):
        self._commit([(envelope, content)])

    def _commit(self, messages):
        """Write [(envelope, content)] under temporary names, make them durable, rename them into place and sync
        the folder: a message never has its final name before its whole content is on disk. On an error, no
        temporary file is left behind."""
        written = []   # (temporary path, open descriptor)
        try:
            for envelope, content in messages:
                written.append(self._write_temporary(envelope, content))
            self._make_durable([descriptor for _, descriptor in written])
        except BaseException:
            for temporary, _ in written:
                _unlink(temporary)
            raise
        finally:
            for _, descriptor in written:
                os.close(descriptor)
        for (temporary, _), (envelope, _) in zip(written, messages):
            os.replace(temporary, self._path(envelope.message_id))
        self._sync_directory(self._count_rename())

    def _write_temporary(self, envelope, content):
        """The message in a file under a temporary name, not synced yet; returns (its path, its descriptor)."""
        temporary = self._prefix + envelope.message_id + TEMP_SUFFIX
        reused = self.free_files.take(temporary)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | (0 if reused else os.O_TRUNC), 0o600)
        try:
            spooled = isinstance(content, SpooledContent)
            data = memoryview(envelope.to_json().encode() + b"\n" + (content.head if spooled else content))
            length = len(data) + (content.spool.size if spooled else 0)
            while data:   # one write, as a rule
                data = data[os.write(descriptor, data):]
            if spooled:
                content.spool.copy_to(descriptor)
            if reused and os.fstat(descriptor).st_size > length:   # written over a longer message: cut its end
                os.ftruncate(descriptor, length)
        except BaseException:
            os.close(descriptor)
            _unlink(temporary)
            raise
        return temporary, descriptor

    def _make_durable(self, descriptors):
        if self._syncfs is not None:
            if descriptors and self._syncfs(descriptors[0]) != 0:
                error = ctypes.get_errno()
                raise OSError(error, f"syncfs of {self.root}: {os.strerror(error)}")
            return
        for descriptor in descriptors:
            os.fsync(descriptor)

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


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _new_envelope(*, mail_from, rcpt_tos, received_connector, client_ip, client_hostname, auth_user, size,
                  header_message_id, subject, arrival_time=None, mail_options=(), rcpt_options=()):
    return Envelope(
        message_id=new_message_id(), mail_from=mail_from, rcpt_tos=tuple(rcpt_tos),
        received_connector=received_connector, client_ip=client_ip, client_hostname=client_hostname,
        auth_user=auth_user, arrival_time=arrival_time or datetime.now(timezone.utc), size=size,
        header_message_id=header_message_id, subject=subject, mail_options=tuple(mail_options),
        rcpt_options=tuple(tuple(options) for options in rcpt_options),
    )
