"""The durable queue store of one transport server: EXCHANGE_DATA_DIR/<SERVER>/Queue.

Each message is two files, <id>.eml (content as received, with our Received header) and <id>.json (the
envelope). Both are written to a temporary name, fsynced, renamed into place, and the directory is fsynced,
so a message whose acceptance was acknowledged survives a crash at any later moment. The envelope file is
renamed last: a message exists (ids()) only once both files are complete.
"""
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path

CONTENT_SUFFIX, ENVELOPE_SUFFIX, TEMP_SUFFIX = ".eml", ".json", ".tmp"


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
        data = asdict(self)
        data["arrival_time"] = self.arrival_time.isoformat()
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        known = {field.name for field in fields(cls)}
        data = {key: value for key, value in data.items() if key in known}
        data["arrival_time"] = datetime.fromisoformat(data["arrival_time"])
        for name in ("rcpt_tos", "mail_options"):
            data[name] = tuple(data.get(name, ()))
        data["rcpt_options"] = tuple(tuple(options) for options in data.get("rcpt_options", ()))
        return cls(**data)


def new_message_id():
    """Time-ordered and unique across processes: 16 hex digits of nanoseconds, then 8 random hex digits."""
    return f"{time.time_ns():016x}{secrets.token_hex(4)}"


class MessageStore:
    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def accept(self, content, *, mail_from, rcpt_tos, received_connector, client_ip, client_hostname,
               auth_user, size, header_message_id, subject, arrival_time=None, mail_options=(),
               rcpt_options=()):
        """Durably store one message and return its envelope (with its new message_id)."""
        envelope = Envelope(
            message_id=new_message_id(), mail_from=mail_from, rcpt_tos=tuple(rcpt_tos),
            received_connector=received_connector, client_ip=client_ip, client_hostname=client_hostname,
            auth_user=auth_user, arrival_time=arrival_time or datetime.now(timezone.utc), size=size,
            header_message_id=header_message_id, subject=subject, mail_options=tuple(mail_options),
            rcpt_options=tuple(tuple(options) for options in rcpt_options),
        )
        self._write(envelope.message_id + CONTENT_SUFFIX, content)
        self._write(envelope.message_id + ENVELOPE_SUFFIX, envelope.to_json().encode())
        self._fsync_directory()
        return envelope

    def replace_envelope(self, envelope, **changes):
        """Rewrite a stored envelope atomically (e.g. fewer recipients left); returns the new envelope."""
        updated = replace(envelope, **changes)
        self._write(updated.message_id + ENVELOPE_SUFFIX, updated.to_json().encode())
        self._fsync_directory()
        return updated

    def load(self, message_id):
        envelope = Envelope.from_json((self.root / (message_id + ENVELOPE_SUFFIX)).read_text())
        return envelope, (self.root / (message_id + CONTENT_SUFFIX)).read_bytes()

    def remove(self, message_id):
        # Envelope first: a crash in between leaves an orphan content file, never a message without content.
        for suffix in (ENVELOPE_SUFFIX, CONTENT_SUFFIX):
            (self.root / (message_id + suffix)).unlink(missing_ok=True)
        self._fsync_directory()

    def ids(self):
        """Ids of the complete messages in the store, oldest first."""
        return sorted(path.name.removesuffix(ENVELOPE_SUFFIX) for path in self.root.glob("*" + ENVELOPE_SUFFIX))

    def _write(self, name, data):
        temporary = self.root / (name + TEMP_SUFFIX)
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.root / name)

    def _fsync_directory(self):
        descriptor = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def server_store(server_name):
    """The queue store of a transport server under EXCHANGE_DATA_DIR."""
    from django.conf import settings

    return MessageStore(Path(settings.EXCHANGE_DATA_DIR) / server_name / "Queue")
