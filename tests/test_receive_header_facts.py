"""What the receive side reads of a message's header block (hop counts for the loop check, Message-ID and Subject
for the DATA reply, the logs and the queue) agrees with Python's email parser, on crafted blocks and on random
ones: its own reader must not let a header hide from the hop count, nor smuggle a line into a reply."""
import random
from email.parser import BytesHeaderParser

import pytest

from transport.receive.acceptance import _one_line, _received_by, header_facts

LOCAL = frozenset({"hub.contoso.com"})


def parsed_facts(headers, local_hosts):
    """The same facts, read by the email package."""
    parsed = BytesHeaderParser().parsebytes(headers)
    received = [str(value) for value in parsed.get_all("Received") or ()]
    return {
        "received_count": len(received),
        "local_received_count": sum(_received_by(value) in local_hosts for value in received),
        "message_id": _one_line(parsed.get("Message-ID")),
        "subject": _one_line(parsed.get("Subject")),
    }


CRAFTED = [
    b"Subject: plain\r\nMessage-ID: <a@b>\r\n\r\n",
    b"Received: from a by hub.contoso.com; x\r\nReceived: from b\r\n by hub.contoso.com\r\nreceived: by other\r\n\r\n",
    b"Subject: folded\r\n over\r\n\tthree lines\r\n\r\n",
    b"Subject: first\r\nSubject: second\r\nMessage-Id: <one@x>\r\nMESSAGE-ID: <two@x>\r\n\r\n",
    b"From sender@example.com Mon Jan 1 00:00:00 2024\r\nSubject: after an mbox line\r\n\r\n",
    b"Subject: before\r\nFrom sender@example.com misplaced\r\nMessage-ID: <m@x>\r\n\r\n",
    b" continuation first\r\nSubject: s\r\n\r\n",
    b"Subject: s\r\nNot a header line\r\nReceived: by hub.contoso.com\r\n\r\n",
    b"Subject : space before the colon ends the block\r\nReceived: by hub.contoso.com\r\n\r\n",
    b": empty name\r\n continued\r\nSubject: s\r\n\r\n",
    b"Subject: caf\xc3\xa9 \xff\r\n more\r\nMessage-ID: <a\x80b@x>\r\n\r\n",
    b"Subject: lone CR\rReceived: by hub.contoso.com\rMessage-ID: <cr@x>\r\r",
    b"Subject: LF only\nReceived: by hub.contoso.com\n\n",
    b"Subject: smuggled\r\n\r\nReceived: by hub.contoso.com\r\n",
    b"Subject: ends without a blank line",
    b"Subject: control \x00\x1b[31m chars\x7f\r\nMessage-ID: <a\tb\x0bc@x>\r\n\r\n",
    b"Subject:\r\nMessage-ID:\r\n\r\n",
    b"Received:by hub.contoso.com\r\nReceived: (by hub.contoso.com)\r\n\r\n",
    b"Subject: \x0c form feed \x1c separators \x85 next line\r\n\r\n",
    b"",
]


@pytest.mark.parametrize("headers", CRAFTED)
def test_crafted_header_blocks_read_as_the_email_parser_reads_them(headers):
    assert header_facts(headers, LOCAL) == parsed_facts(headers, LOCAL)


def test_a_folded_received_header_counts_once_and_a_hidden_one_not_at_all():
    facts = header_facts(b"Received: from a\r\n by hub.contoso.com\r\nX: y\r\nnot a header\r\n"
                         b"Received: by hub.contoso.com\r\n\r\n", LOCAL)
    assert (facts["received_count"], facts["local_received_count"]) == (1, 1)


PIECES = [b"Subject", b"Message-ID", b"Received", b"received", b"From ", b"X-Y", b":", b": ", b" ", b"\t", b"\r\n",
          b"\r", b"\n", b"by hub.contoso.com", b"by other.example", b"<id@x>", b"text", b"\xc3\xa9", b"\xff", b"\x00",
          b"\x1f", b"(", b";", b"\x0b", b"\x1c"]


def test_random_header_blocks_read_as_the_email_parser_reads_them():
    chance = random.Random(2026)
    for _ in range(3000):
        headers = b"".join(chance.choice(PIECES) for _ in range(chance.randrange(0, 40)))
        assert header_facts(headers, LOCAL) == parsed_facts(headers, LOCAL), headers
