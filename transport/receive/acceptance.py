"""Durable acceptance of a received message: its content as DATA brings it, Received header, fsync into the
queue store, RECEIVE tracking event, then the hand-off to the categorizer; all before the 250 reply."""
import logging
import re
from email.utils import make_msgid

from transport.batching import Batcher
from transport.queue.store import SpooledContent

log = logging.getLogger(__name__)
# What Python's email parser takes for a line of the header block, and its line ends (header_fields reads as it does).
_HEADER_LINE = re.compile(r"From |[\041-\071\073-\176]*:|[\t ]")
_LINE_END = re.compile(r"\r\n|\r|\n")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_RECEIVED_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
HEADER_TOO_BIG = "552 5.3.4 Header size exceeds fixed maximum size"
# Message content up to this size stays in memory and is stored with one write; beyond it, it is spooled.
MEMORY_CONTENT = 64 * 1024


def received_header(helo, client_ip, fqdn, local_ip, tls, date):
    """Exchange 2010's form: `from HELO (client IP) by FQDN (server IP) with Microsoft SMTP Server (TLS) id`;
    `date` as RFC 5322 writes it."""
    with_text = "Microsoft SMTP Server (TLS)" if tls else "Microsoft SMTP Server"
    return (f"Received: from {helo} ({client_ip}) by {fqdn} ({local_ip})\r\n"
            f" with {with_text} id 14.0.0.0; {date}\r\n").encode()


def header_facts(headers, local_hosts=frozenset()):
    """Hop counts (all Received headers, and those added by `local_hosts`), Message-ID and Subject."""
    fields = header_fields(headers)
    received = [value for name, value in fields if name == "received"]
    return {
        "received_count": len(received),
        "local_received_count": sum(_received_by(value) in local_hosts for value in received),
        "message_id": _one_line(next((value for name, value in fields if name == "message-id"), "")),
        "subject": _one_line(next((value for name, value in fields if name == "subject"), "")),
    }


def header_fields(headers):
    """[(lower-case name, value)] of a header block, read as Python's email parser reads it (compat32: the block
    ends at the first line that is no header line, a "From " line is skipped, continuation lines join the field
    before them, a byte that isn't ASCII reads as U+FFFD), without building a message: this runs for every
    message received."""
    lines = []
    for line in _LINE_END.split(headers.decode("ascii", "surrogateescape")):
        if not _HEADER_LINE.match(line):
            break
        lines.append(line)
    fields, name, value = [], None, []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if name is not None:
                value.append(line)
            continue
        if name is not None:
            fields.append((name, value))
            name = None
        colon = line.find(":")
        if line.startswith("From ") or colon < 1:
            continue
        name, value = line[:colon].lower(), [line[colon + 1:].lstrip(" \t")]
    if name is not None:
        fields.append((name, value))
    return [(name, _UNDECODABLE.sub("\ufffd", "\n".join(value))) for name, value in fields]


def _one_line(value):
    """A header's value as the DATA reply, the logs and the queue show it: unfolded, control characters as
    spaces (a folded or crafted Message-ID must not add lines to our reply)."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())


def _received_by(value):
    match = _RECEIVED_BY.search(value)
    return match.group(1).lower() if match else None


def message_id_prefix(facts, received, fqdn):
    """What is stored before the content (our Received header, and a Message-ID when the message has none)
    and the facts with the message's Message-ID."""
    if facts["message_id"]:
        return received, facts
    facts = {**facts, "message_id": make_msgid(domain=fqdn)}
    return received + f"Message-ID: {facts['message_id']}\r\n".encode(), facts


class MessageContent:
    """A message as DATA brings it, dot-unstuffed: its header block and the start of its body in memory, the
    rest of the body in a spool of the queue store as it arrives. Once refused (over a limit, or dropped by
    the session), nothing more is kept: only the refusal is."""

    def __init__(self, store, size_limit, header_limit):
        self.store, self.size_limit, self.header_limit = store, size_limit, header_limit
        self.headers = None         # the header block with its blank line, once it has arrived
        self.size = 0
        self.refusal = None
        self._kept = bytearray()    # the header block so far, then the headers and the start of the body
        self._spool = None

    def add(self, data):
        if self.refusal is not None:
            return
        self.size += len(data)
        if self.size > self.size_limit:
            return self.drop(TOO_BIG)
        if self._spool is not None:
            return self._spool.write(data)
        searched = max(len(self._kept) - 3, 0)
        self._kept += data
        if self.headers is None:
            self._find_header_end(searched)
        elif len(self._kept) > MEMORY_CONTENT:
            self._spool = self.store.spool()
            self._spool.write(memoryview(self._kept)[len(self.headers):])
            del self._kept[len(self.headers):]

    def _find_header_end(self, searched):
        """The header block ends at the first blank line (or is empty when the content starts with one)."""
        if self._kept.startswith(b"\r\n"):
            self.headers = b"\r\n"
        elif (blank := self._kept.find(b"\r\n\r\n", searched)) != -1:
            self.headers = bytes(self._kept[:blank + 4])
        if len(self.headers or self._kept) > self.header_limit:
            self.drop(HEADER_TOO_BIG)

    def end(self):
        """At the final dot: a message without a blank line is all headers."""
        if self.headers is None and self.refusal is None:
            self.headers = bytes(self._kept)

    def drop(self, refusal):
        """Keep nothing more: the message gets `refusal` at its end."""
        self.refusal = refusal
        self._kept = bytearray()
        self.discard()

    def stored(self, prefix, headers):
        """The content to store: `prefix`, the (filtered) header block, then the body."""
        head = prefix + headers + self._kept[len(self.headers):]
        return head if self._spool is None else SpooledContent(head, self._spool)

    def discard(self):
        if self._spool is not None:
            self._spool.discard()
            self._spool = None


class GroupAcceptance:
    """Durable acceptance for every session of a receive service, in groups: one thread stores all the
    messages waiting (each fsynced, the folder synced once), writes their RECEIVE events, hands them to the
    categorizer and wakes their sessions together. One hand-over per group, rather than a thread per message,
    keeps the event loop from contending with many threads for the interpreter; the guarantee is unchanged:
    stored and synced before the 250."""

    def __init__(self, loop):
        self.loop = loop
        self._batcher = Batcher(self._store_and_wake, "smtp-accept")

    async def accept(self, runtime, *, content, headers, facts, envelope_fields, server_ip, received, fqdn):
        """Store (fsync), track, hand on a MessageContent whose header block is now `headers`. Returns the
        stored Envelope."""
        prefix, facts = message_id_prefix(facts, received, fqdn)
        content = content.stored(prefix, headers)
        fields = {**envelope_fields, "size": len(content), "header_message_id": facts["message_id"],
                  "subject": facts["subject"]}
        future = self.loop.create_future()
        self._batcher.add((runtime, content, fields, server_ip, future))
        return await future

    def _store_and_wake(self, group):
        self.loop.call_soon_threadsafe(_settle, self._store(group))

    @staticmethod
    def _store(group):
        """[(future, envelope or None, error or None)] for the group, stored per queue store."""
        by_store, outcomes = {}, []
        for item in group:
            by_store.setdefault(item[0].store, []).append(item)
        for store, items in by_store.items():
            try:
                envelopes = store.accept_group([(content, fields) for _, content, fields, _, _ in items])
            except Exception as error:   # e.g. a full disk: every session of the group is told
                log.exception("Could not store %d message(s)", len(items))
                outcomes.extend((future, None, error) for *_, future in items)
                continue
            for (runtime, _, _, server_ip, future), envelope in zip(items, envelopes):
                _hand_on(runtime, envelope, server_ip)
                outcomes.append((future, envelope, None))
        return outcomes


def _hand_on(runtime, envelope, server_ip):
    try:
        runtime.tracking_log.receive(envelope, server_ip=server_ip)
    except OSError:
        log.exception("Could not write the message tracking log")
    runtime.handoff.add(envelope.message_id)


def _settle(outcomes):
    for future, envelope, error in outcomes:
        if future.cancelled():   # the session went away meanwhile; its message is stored all the same
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(envelope)
