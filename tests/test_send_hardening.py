"""What the send side puts on the wire, over real loopback peers and a real DNS server: every line ending CRLF,
so that no bare CR or LF next to a dot can end the message early at the next hop (a raw socket sink records
the exact bytes); the organization's X-MS-Exchange-Organization-* and -Forest-* headers only towards our own
transport servers; and the private key of mutual TLS never in a file of the data folder."""
import re
import socket
import threading

import pytest
import trustme
from django.conf import settings

from exchange_console.certificates.services import import_certificate
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import TRANSPORT_SERVER
from exchange_console.services import new_object, set_object
from tests.dns_server import TestDNSServer
from tests.send_peers import Sink
from tests.test_send_delivery import SENDER, org, smart_host_connector, store_ids, tasks
from tests.transport_helpers import loopback_host, new_receive_connector
from transport import dispatch

__all__ = ["org", "tasks"]

NETWORK = loopback_host(91).rsplit(".", 1)[0]    # this run's own loopback addresses
RAW_SINK, SMART_HOST, MX_HOST, HUB02_LISTENER, DNS = (f"{NETWORK}.{n}" for n in (2, 3, 4, 5, 53))
PORT, DNS_PORT = 42525, 42553
BARE_LINE_ENDING = re.compile(rb"\r(?!\n)|(?<!\r)\n")

ORGANIZATION_HEADERS = (b"X-MS-Exchange-Organization-AuthAs: Internal\r\n"
                        b"X-MS-Exchange-Organization-SCL: -1\r\n"
                        b"X-MS-Exchange-Forest-RulesExecuted: HUB01\r\n\tHUB02\r\n")
OUTSIDE_MESSAGE = (b"From: alice@contoso.com\r\nTo: bob@fabrikam.com\r\nSubject: Leaving\r\nX-Mailer: Outlook\r\n"
                   b"\r\nBody\r\nX-MS-Exchange-Organization-SCL: a body line, not a header\r\n")
INSIDE_MESSAGE = (b"From: alice@contoso.com\r\nTo: bob@fabrikam.com\r\n" + ORGANIZATION_HEADERS
                  + OUTSIDE_MESSAGE.split(b"\r\n", 2)[2])


class RawSink:
    """A bare SMTP server on a socket: records each message exactly as it arrived after DATA's 354, up to and
    with the first <CRLF>.<CRLF> (as a receiver that ends DATA only there reads it), and every command line."""

    def __init__(self, address, port, pipelining=False):
        self.listener = socket.create_server((address, port))
        self.pipelining = pipelining
        self.messages, self.commands = [], []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)   # wakes the accept() of the thread
        self.listener.close()
        self.thread.join(5)

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                self._session(connection)

    def _session(self, connection):
        connection.sendall(b"220 raw.sink ESMTP\r\n")
        self.buffer = b""
        while (line := self._read(connection, b"\r\n")) is not None:
            self.commands.append(line)
            verb = line[:4].upper()
            if verb == b"EHLO":
                connection.sendall(b"250-raw.sink\r\n" + b"250-PIPELINING\r\n" * self.pipelining + b"250 8BITMIME\r\n")
            elif verb == b"DATA":
                connection.sendall(b"354 Start mail input\r\n")
                self.buffer = b"\r\n" + self.buffer   # DATA's own CRLF: a message may start with the final dot
                message = self._read(connection, b"\r\n.\r\n")
                self.messages.append(message[2:])
                connection.sendall(b"250 2.6.0 Queued mail for delivery\r\n")
            elif verb == b"QUIT":
                connection.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                connection.sendall(b"250 2.0.0 OK\r\n")

    def _read(self, connection, end):
        """The bytes up to and with `end` (None when the client went away)."""
        while end not in self.buffer:
            data = connection.recv(65536)
            if not data:
                return None
            self.buffer += data
        index = self.buffer.index(end) + len(end)
        data, self.buffer = self.buffer[:index], self.buffer[index:]
        return data


def submit_content(tasks, content, rcpt_tos=("bob@fabrikam.com",)):
    """Queue `content` as stored (bare line endings and all) and run the categorizer and delivery."""
    envelope = tasks.runtime("HUB01").store.accept(
        content, mail_from=SENDER, rcpt_tos=list(rcpt_tos), received_connector="HUB01\\Default HUB01",
        client_ip="127.0.0.1", client_hostname="client.contoso.com", auth_user="", size=len(content),
        header_message_id="", subject="")
    dispatch.categorize_messages("HUB01", [envelope.message_id])
    tasks.run()
    return envelope


def unstuffed(message):
    """What a strict receiver stores: the lines before the final dot, each leading dot removed once."""
    lines = message[:-len(b".\r\n")].split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


SMUGGLED = b"MAIL FROM:<mallory@evil.example>\r\nRCPT TO:<victim@fabrikam.com>\r\nDATA\r\nSmuggled\r\n"


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-command-at-a-time", "pipelining"])
def test_it_sends_every_line_ending_as_crlf_so_only_the_final_dot_ends_the_message(org, tasks, pipelining):
    smart_host_connector("To Raw Sink", RAW_SINK, PORT)
    content = (b"Subject: Smuggling\r\n\r\nFirst\n.\r\n" + SMUGGLED + b".\r\rsecond\r.\rthird\n.\nfourth\r\n.\n"
               b"fifth\r..\r\nlast")
    with RawSink(RAW_SINK, PORT, pipelining=pipelining) as sink:
        submit_content(tasks, content)
    assert sink.messages == [
        b"Subject: Smuggling\r\n\r\nFirst\r\n..\r\n" + SMUGGLED + b"..\r\n\r\nsecond\r\n..\r\nthird\r\n..\r\n"
        b"fourth\r\n..\r\nfifth\r\n...\r\nlast\r\n.\r\n"]
    assert [command[:4].upper() for command in sink.commands] == [b"EHLO", b"MAIL", b"RCPT", b"DATA", b"QUIT"]
    assert [command.upper() for command in sink.commands[1:3]] == [
        f"MAIL FROM:<{SENDER.upper()}>\r\n".encode(), b"RCPT TO:<BOB@FABRIKAM.COM>\r\n"]
    assert store_ids() == []


@pytest.mark.parametrize("content", [
    b".\r\nMAIL FROM:<mallory@evil.example>\r\n",   # a dot line first
    b"\n.\r\n" + SMUGGLED,
    b"Subject: x\r\n\r\nbody\r.\r" + SMUGGLED,
    b"Subject: x\r\n\r\nbody\n.\n" + SMUGGLED,
    b"Subject: x\r\n\r\nbody\r\n.\n" + SMUGGLED,
    b"Subject: x\r\n\r\nbody\r\n.\r" + SMUGGLED,
    b"Subject: x\r\n\r\nbody\r\r\n.\r\n\r" + SMUGGLED,
    b"Subject: x\r\n\r\n.",                          # a dot at the very end, without a line ending
    b"Subject: x\r\n\r\nends with a bare CR\r",
], ids=["dot-line-first", "lf-dot-crlf", "cr-dot-cr", "lf-dot-lf", "crlf-dot-lf", "crlf-dot-cr", "cr-crlf-dot",
        "final-dot", "final-cr"])
def test_it_never_sends_a_bare_cr_or_lf(org, tasks, content):
    smart_host_connector("To Raw Sink", RAW_SINK, PORT + 1)
    with RawSink(RAW_SINK, PORT + 1) as sink:
        submit_content(tasks, content)
    [message] = sink.messages
    assert not BARE_LINE_ENDING.search(message)
    assert (b"\r\n" + message).count(b"\r\n.\r\n") == 1      # only the final dot ends it
    normalized = content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    assert unstuffed(message) == normalized + (b"" if normalized.endswith(b"\r\n") else b"\r\n")
    assert [command[:4].upper() for command in sink.commands] == [b"EHLO", b"MAIL", b"RCPT", b"DATA", b"QUIT"]


def test_it_removes_organization_headers_at_a_smart_host_outside_the_organization(org, tasks):
    smart_host_connector("To Smart Host", SMART_HOST, PORT)
    with Sink(SMART_HOST, PORT) as sink:
        submit_content(tasks, INSIDE_MESSAGE)
    assert [message.content for message in sink.received] == [OUTSIDE_MESSAGE]


def test_it_removes_organization_headers_at_an_mx_host(org, tasks):
    zone = {"fabrikam.com": [("MX", 10, "mx.fabrikam.com")], "mx.fabrikam.com": [("A", MX_HOST)]}
    with TestDNSServer(zone, DNS, DNS_PORT) as dns, Sink(MX_HOST, PORT) as mx:
        set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"),
                   {"ExternalDNSServers": [dns.endpoint], "InternalDNSServers": [dns.endpoint]})
        new_object(SEND_CONNECTOR, {"Name": "Internet", "AddressSpaces": "*", "Port": PORT, "Usage": "Internet"})
        submit_content(tasks, INSIDE_MESSAGE)
    assert [message.content for message in mx.received] == [OUTSIDE_MESSAGE]


@pytest.mark.parametrize("address, values", [
    (HUB02_LISTENER, {"SmartHosts": f"[{HUB02_LISTENER}]"}),      # where HUB02's receive connector listens
    (SMART_HOST, {"SmartHosts": "hub02.contoso.com"}),            # HUB02's FQDN
    (SMART_HOST, {"SmartHosts": f"[{SMART_HOST}]", "Usage": "Internal", "SmartHostAuthMechanism": "None"}),
], ids=["receive-connector-endpoint", "server-fqdn", "usage-internal"])
def test_it_keeps_organization_headers_for_another_hub(org, tasks, second_hub, address, values):
    new_receive_connector(second_hub, "From HUB01", f"{HUB02_LISTENER}:{PORT}")
    zone = {"hub02.contoso.com": [("A", SMART_HOST)]}
    with TestDNSServer(zone, DNS, DNS_PORT) as dns, Sink(address, PORT) as hub02:
        set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {"InternalDNSServers": [dns.endpoint]})
        new_object(SEND_CONNECTOR, {"Name": "To HUB02", "AddressSpaces": "*", "DNSRoutingEnabled": False,
                                    "Port": PORT, **values})
        submit_content(tasks, INSIDE_MESSAGE)
    assert [message.content for message in hub02.received] == [INSIDE_MESSAGE]


def test_it_removes_organization_headers_at_another_port_of_a_hub_address(org, tasks, second_hub):
    new_receive_connector(second_hub, "From HUB01", f"{HUB02_LISTENER}:{PORT}")
    smart_host_connector("To a filter", HUB02_LISTENER, PORT + 1)
    with Sink(HUB02_LISTENER, PORT + 1) as content_filter:     # not ours, though on the same address
        submit_content(tasks, INSIDE_MESSAGE)
    assert [message.content for message in content_filter.received] == [OUTSIDE_MESSAGE]


def test_it_keeps_the_private_key_of_mutual_tls_out_of_the_data_folder(org, tasks):
    ca = trustme.CA()
    issued = ca.issue_cert("hub01.contoso.com")
    import_certificate(TransportServer.objects.get(name="HUB01"), issued.private_key_and_cert_chain_pem.bytes())
    left_behind = settings.EXCHANGE_DATA_DIR / "HUB01" / "TransportRoles" / "ClientCertificate-0123456789abcdef.pem"
    left_behind.parent.mkdir(parents=True, exist_ok=True)
    left_behind.write_bytes(issued.private_key_and_cert_chain_pem.bytes())   # what an older version wrote
    smart_host_connector("To HUB02", SMART_HOST, PORT, SmartHostAuthMechanism="ExchangeServer")
    with Sink(SMART_HOST, PORT, tls=ca.issue_cert("hub02.contoso.com"), client_ca=ca) as hub02:
        submit_content(tasks, INSIDE_MESSAGE)
    [received] = hub02.received
    assert received.tls and ("DNS", "hub01.contoso.com") in received.client_certificate["subjectAltName"]
    assert received.content == INSIDE_MESSAGE     # Exchange server authentication: one of ours
    assert not left_behind.exists()
    assert [path for path in settings.EXCHANGE_DATA_DIR.rglob("*")
            if path.is_file() and b"PRIVATE KEY" in path.read_bytes()] == []


def test_organization_fields_are_stripped_wherever_a_line_can_start():
    """After CRLF, LF or a lone CR (a line end to some readers): an outsider can't slip one through; a header block
    without any comes back as the same bytes."""
    from transport.headers import FOREST_HEADERS, ORGANIZATION_HEADERS, strip_header_fields

    prefixes = (ORGANIZATION_HEADERS, FOREST_HEADERS)
    smuggled = b"Subject: hi\rX-MS-Exchange-Organization-AuthAs: Internal\r\nx-ms-exchange-forest-a: 1\n\r\nbody"
    assert strip_header_fields(smuggled, prefixes) == b"Subject: hi\r\r\nbody"
    clean = b"Subject: X-MS-Exchange-Organization-AuthAs\r\n\tfolded\r\n\r\nbody"
    assert strip_header_fields(clean, prefixes) is clean
