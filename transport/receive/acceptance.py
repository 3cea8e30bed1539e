"""Durable acceptance of a received message: Received header, fsync into the queue store, RECEIVE tracking
event, then the hand-off to the categorizer; all before the 250 reply."""
import logging
import re
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid

from transport.batching import Batcher
from transport.headers import split_headers, strip_header_fields  # noqa: F401 (the receive session's)

log = logging.getLogger(__name__)
_header_parser = BytesHeaderParser()
_RECEIVED_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)


def received_header(helo, client_ip, fqdn, local_ip, tls, moment):
    """Exchange 2010's form: `from HELO (client IP) by FQDN (server IP) with Microsoft SMTP Server (TLS) id`."""
    with_text = "Microsoft SMTP Server (TLS)" if tls else "Microsoft SMTP Server"
    return (f"Received: from {helo} ({client_ip}) by {fqdn} ({local_ip})\r\n"
            f" with {with_text} id 14.0.0.0; {format_datetime(moment)}\r\n").encode()


def header_facts(headers, local_hosts=frozenset()):
    """Hop counts (all Received headers, and those added by `local_hosts`), Message-ID and Subject."""
    parsed = _header_parser.parsebytes(headers)
    received = [str(value) for value in parsed.get_all("Received") or ()]
    return {
        "received_count": len(received),
        "local_received_count": sum(_received_by(value) in local_hosts for value in received),
        "message_id": (parsed.get("Message-ID") or "").strip(),
        "subject": str(parsed.get("Subject") or "").strip(),
    }


def _received_by(value):
    match = _RECEIVED_BY.search(value)
    return match.group(1).lower() if match else None


def with_message_id(content, facts, received, fqdn):
    """The content as stored (our Received header first, a Message-ID added when it has none) and its facts."""
    prefix = received
    if not facts["message_id"]:
        facts = {**facts, "message_id": make_msgid(domain=fqdn)}
        prefix += f"Message-ID: {facts['message_id']}\r\n".encode()
    return prefix + content, facts


class GroupAcceptance:
    """Durable acceptance for every session of a receive service, in groups: one thread stores all the
    messages waiting (each fsynced, the folder synced once), writes their RECEIVE events, hands them to the
    categorizer and wakes their sessions together. One hand-over per group, rather than a thread per message,
    keeps the event loop from contending with many threads for the interpreter; the guarantee is unchanged:
    stored and synced before the 250."""

    def __init__(self, loop):
        self.loop = loop
        self._batcher = Batcher(self._store_and_wake, "smtp-accept")

    async def accept(self, runtime, *, content, facts, envelope_fields, server_ip, received, fqdn):
        """Store (fsync), track, hand on. Returns the stored Envelope."""
        content, facts = with_message_id(content, facts, received, fqdn)
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
