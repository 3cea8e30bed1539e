"""Durable acceptance of a received message: Received header, fsync into the queue store, RECEIVE tracking
event, then the categorizer task. Runs in a thread (blocking disk and broker I/O), before the 250 reply."""
import logging
import re
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid

from transport.tasks import hand_to_categorizer

log = logging.getLogger(__name__)
_header_parser = BytesHeaderParser()
_RECEIVED_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)


def split_headers(content):
    """(header block including its blank line, body); a message without a body is all headers."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = content.find(separator)
        if index != -1:
            return content[:index + len(separator)], content[index + len(separator):]
    return content, b""


def strip_header_fields(content, prefixes):
    """The content without the header fields (and their continuation lines) whose names start with one of
    `prefixes` (lower-case bytes): the organization's own headers from a sender not trusted to set them."""
    headers, body = split_headers(content)
    kept, dropping = [], False
    for line in headers.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(prefixes)
        if not dropping:
            kept.append(line)
    return b"".join(kept) + body


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


def accept_message(runtime, *, content, facts, envelope_fields, server_ip, received, fqdn):
    """Store (fsync), track, hand on. Returns the stored Envelope."""
    prefix = received
    if not facts["message_id"]:
        facts = {**facts, "message_id": make_msgid(domain=fqdn)}
        prefix += f"Message-ID: {facts['message_id']}\r\n".encode()
    content = prefix + content
    envelope = runtime.store.accept(content, size=len(content), header_message_id=facts["message_id"],
                                    subject=facts["subject"], **envelope_fields)
    try:
        runtime.tracking_log.receive(envelope, server_ip=server_ip)
    except OSError:
        log.exception("Could not write the message tracking log")
    try:
        hand_to_categorizer(runtime.snapshot.name, envelope.message_id)
    except Exception:  # stored durably: the worker hands it on again when it restarts
        log.exception("Could not hand message %s to the categorizer", envelope.message_id)
    return envelope
