"""Receive connector parameters that change the SMTP dialogue (issue 15, point 5), against a real transport worker
over raw sockets: BareLinefeedRejectionEnabled (Exchange's default $false takes a bare LF as a line ending, never
as the end of DATA), LongAddressesEnabled (XLONGADDR: longer lines and addresses), OrarEnabled (XORAR) and
ChunkingEnabled (CHUNKING: BDAT)."""
import re
import socket

import pytest

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object
from tests.transport_helpers import (
    TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector, remove_server_data,
    server_store, unique_server_name,
)
from transport.receive.session import ADDRESS_TOO_LONG, BARE_LINE_ENDING, LINE_TOO_LONG

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(25)
DEFAULT, LONG = 25041, 25042
ANONYMOUS = {"PermissionGroups": "AnonymousUsers"}


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RP")
    server = install_receive_server(name, "rp.contoso.com")
    # Mail for an ExternalRelay domain with no send connector stays in the queue store after categorizing.
    new_object(ACCEPTED_DOMAIN, {"Name": "Relay", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Default", f"{HOST}:{DEFAULT}", **ANONYMOUS)
    new_receive_connector(server, "Long", f"{HOST}:{LONG}", LongAddressesEnabled=True, OrarEnabled=True,
                          ChunkingEnabled=False, **ANONYMOUS)
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{port}" for port in (DEFAULT, LONG)])
    yield worker
    worker.stop()


def dialogue(port, data):
    """Send `data` as given (after the banner), then read every reply line until the server closes."""
    with socket.create_connection((HOST, port), timeout=10) as raw:
        replies = raw.makefile("rb")
        assert replies.readline().startswith(b"220 ")
        raw.sendall(data)
        return [line.decode().rstrip("\r\n") for line in replies]


def stored(server, reply):
    message_id = re.search(r"\[InternalId=(\w+)\]", reply).group(1)
    return server_store(server.name).load(message_id)


def transaction(recipient="b@relay.example", rcpt_parameters=""):
    return (f"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<{recipient}>{rcpt_parameters}\r\n"
            f"DATA\r\n").encode()


def test_it_takes_a_bare_line_feed_as_a_line_ending_by_default_and_stores_crlf(worker, server):
    replies = dialogue(DEFAULT, transaction() + b"Subject: bare\r\n\r\none\ntwo\n..three\r\n.\r\nQUIT\r\n")
    assert replies[-2].startswith("250 2.6.0 ")
    _, content = stored(server, replies[-2])
    assert content.endswith(b"Subject: bare\r\n\r\none\r\ntwo\r\n.three\r\n")


@pytest.mark.parametrize("dot_line", [b"one\n.\ntwo", b"one\n.\r\ntwo", b"one\r\n.\ntwo"])
def test_it_never_takes_a_dot_next_to_a_bare_line_feed(worker, server, dot_line):
    """What a lenient server would take for the end of DATA is refused whole, never an end (SMTP smuggling)."""
    replies = dialogue(DEFAULT, transaction() + b"Subject: s\r\n\r\n" + dot_line + b"\r\n.\r\nQUIT\r\n")
    assert replies[-2:] == [BARE_LINE_ENDING, "221 2.0.0 Service closing transmission channel"]


def test_it_advertises_xlongaddr_and_xorar_only_where_enabled(worker):
    default = dialogue(DEFAULT, b"EHLO client.example.com\r\nQUIT\r\n")
    long = dialogue(LONG, b"EHLO client.example.com\r\nQUIT\r\n")
    assert "250-XLONGADDR" not in default and "250-XORAR" not in default
    assert "250-8BITMIME" in long and "250-XLONGADDR" in long and long[-2] == "250 XORAR"


def test_it_refuses_an_address_over_571_characters_unless_long_addresses_are_enabled(worker, server):
    recipient = "x" * 1500 + "@relay.example"
    default = dialogue(DEFAULT, transaction("y" * 560 + "@relay.example") + b"QUIT\r\n")
    assert default[-3] == ADDRESS_TOO_LONG   # RCPT; then DATA: 503
    assert dialogue(DEFAULT, transaction(recipient) + b"QUIT\r\n")[-3] == LINE_TOO_LONG   # over 1,000 characters
    replies = dialogue(LONG, transaction(recipient) + b"Subject: long\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert replies[-2].startswith("250 2.6.0 ")
    assert stored(server, replies[-2])[0].rcpt_tos == (recipient,)
    too_long = dialogue(LONG, transaction("z" * 1900 + "@relay.example") + b"QUIT\r\n")
    assert too_long[-3] == ADDRESS_TOO_LONG


def test_it_keeps_orar_with_the_recipient_where_enabled(worker, server):
    orar = " ORAR=rfc822;alternate@contoso.com"
    assert dialogue(DEFAULT, transaction(rcpt_parameters=orar) + b"QUIT\r\n")[-3] == "555 5.5.4 Unsupported option"
    replies = dialogue(LONG, transaction(rcpt_parameters=orar) + b"Subject: orar\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert replies[-2].startswith("250 2.6.0 ")
    assert stored(server, replies[-2])[0].rcpt_options == (("ORAR=rfc822;alternate@contoso.com",),)


def bdat(*chunks):
    """BDAT commands for `chunks`, the last one marked LAST."""
    return b"".join(f"BDAT {len(chunk)}{' LAST' if i == len(chunks) - 1 else ''}\r\n".encode() + chunk
                    for i, chunk in enumerate(chunks))


def extensions(replies):
    return [reply[4:] for reply in replies if reply.startswith(("250-", "250 "))]


ENVELOPE = b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@relay.example>\r\n"


def test_it_takes_a_message_in_bdat_chunks_where_chunking_is_enabled(worker, server):
    ehlo = dialogue(DEFAULT, b"EHLO client.example.com\r\nQUIT\r\n")
    assert "CHUNKING" in extensions(ehlo) and "BINARYMIME" not in extensions(ehlo)
    body = b"Subject: chunks\r\n\r\n.a line with a dot\r\nsplit across chu"
    replies = dialogue(DEFAULT, ENVELOPE + bdat(body, b"nks\r\n.\r\nQUIT\r\nbare\nend") + b"QUIT\r\n")
    assert replies[-3] == f"250 2.0.0 CHUNK received OK, {len(body)} octets"
    assert replies[-2].startswith("250 2.6.0 ")
    _, content = stored(server, replies[-2])
    # counted, never read as commands; dots are not stuffed; the bare LF is a line ending; a last CRLF is added
    assert content.endswith(b"Subject: chunks\r\n\r\n.a line with a dot\r\nsplit across chunks\r\n.\r\nQUIT\r\n"
                            b"bare\r\nend\r\n")


def test_it_refuses_bdat_without_recipients_and_skips_its_octets(worker):
    replies = dialogue(DEFAULT, b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\n"
                                + bdat(b"RSET\r\n") + b"QUIT\r\n")
    assert replies[-2:] == ["503 5.5.2 Need rcpt command", "221 2.0.0 Service closing transmission channel"]


def test_it_refuses_a_bare_cr_in_bdat_chunks(worker):
    replies = dialogue(DEFAULT, ENVELOPE + bdat(b"Subject: s\r\n\r\none\rtwo\r\n") + b"QUIT\r\n")
    assert replies[-2:] == [BARE_LINE_ENDING, "221 2.0.0 Service closing transmission channel"]


def test_it_offers_no_chunking_where_it_is_disabled(worker, server):
    connector = ReceiveConnector.objects.get(server=server, name="Long")
    assert connector.chunking_enabled is False
    replies = dialogue(LONG, ENVELOPE + bdat(b"Subject: s\r\n\r\nbody\r\n") + b"QUIT\r\n")
    assert "CHUNKING" not in extensions(replies)
    assert replies[-2:] == ["500 5.3.3 Unrecognized command", "221 2.0.0 Service closing transmission channel"]
