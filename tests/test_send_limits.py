"""Send-side connection limits and timeouts, end to end through real transport workers (`manage.py transport`
subprocesses with an 8-thread pool) and aiosmtpd smart hosts on loopback addresses that count the connections
the server holds open at the same moment:

- MaxPerDomainOutboundConnections bounds the sessions one next hop sees at once; every message still arrives.
- MaxOutboundConnections bounds the sessions of the whole server across next hops; every message still arrives.
- A send connector's ConnectionInactivityTimeOut abandons a session with a smart host that stops answering; the
  message stays queued with its LastError and is delivered by a later attempt once the host answers again.

A send connector's Port is not tested here again: every smart host of tests/test_send_delivery.py and
tests/test_send_worker.py listens on a port other than 25 only (e.g. 127.0.0.21:30021, 127.0.0.62:31062) and
receives the mail there."""
import asyncio
import contextlib
import re
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from django.conf import settings

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_SERVER
from transport.queue.models import QueuedMessage
from exchange_console.services import new_object, set_object
from tests.send_peers import Sink, SinkHandler
from tests.shell_helpers import shell
from tests.transport_helpers import (
    Client, SITE, TransportWorker, committed_db, install_receive_server, new_receive_connector, remove_server_data,
    server_store, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = "127.0.0.70"                  # the receive connectors of the servers under test, one port each
SLOW_HOST, EAST_HOST, WEST_HOST, MUTE_HOST = "127.0.0.71", "127.0.0.72", "127.0.0.73", "127.0.0.74"
SLOW_PORT, EAST_PORT, WEST_PORT, MUTE_PORT = 41071, 41072, 41073, 41074
DOMAINS = ("slow.example", "east.example", "west.example", "mute.example")
WORKER_THREADS = 8                   # well above the limits, so that the limits and not the pool bound the sessions
MESSAGES = 12


# --- Peers -------------------------------------------------------------------------------------------------------

class ConnectionCounter:
    """SMTP connections open at the same moment, as the peers (one or several sinks) see them."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open = self.peak = self.total = 0

    def opened(self):
        with self._lock:
            self.open += 1
            self.total += 1
            self.peak = max(self.peak, self.open)

    def closed(self):
        with self._lock:
            self.open -= 1

    def reset(self):
        """Forget the connections seen so far (aiosmtpd's own check that a started server answers)."""
        assert wait_for(lambda: self.open == 0, timeout=10)
        with self._lock:
            self.peak = self.total = 0


class CountingSMTP(SMTP):
    def __init__(self, counter, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counter = counter

    def connection_made(self, transport):
        self.counter.opened()
        super().connection_made(transport)

    def connection_lost(self, error):
        try:
            super().connection_lost(error)
        finally:
            self.counter.closed()


class CountingController(Controller):
    def __init__(self, handler, counter, **kwargs):
        super().__init__(handler, **kwargs)
        self.counter = counter

    def factory(self):
        return CountingSMTP(self.counter, self.handler, **self.SMTP_kwargs)


class HoldingHandler(SinkHandler):
    """Holds each DATA for `hold` seconds before accepting it (a slow smart host)."""

    def __init__(self, hold):
        super().__init__()
        self.hold = hold

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.hold)
        return await super().handle_DATA(server, session, envelope)


class MuteHandler(SinkHandler):
    """Answers the greeting and EHLO, then never answers MAIL FROM while `mute` is set. `abandoned`: how long
    each unanswered MAIL FROM waited until the client gave up the connection."""

    def __init__(self):
        super().__init__()
        self.mute = True
        self.abandoned = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        started = time.monotonic()
        try:
            while self.mute:
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:      # aiosmtpd cancels the session when the client goes away
            self.abandoned.append(time.monotonic() - started)
            raise
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"


class CountingSink(Sink):
    """A Sink on address:port with `handler` that counts its connections in `counter`."""

    def __init__(self, address, port, handler, counter):
        self.handler, self.counter = handler, counter
        self.controller = CountingController(handler, counter, hostname=address, port=port, ident="sink")


@contextlib.contextmanager
def smart_host(address, port, handler, counter=None):
    with CountingSink(address, port, handler, counter or ConnectionCounter()) as sink:
        sink.counter.reset()
        yield sink


# --- Servers under test --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def organization(committed_db):
    setup.install_organization("First Organization", SITE)
    setup.ensure_accepted_domain("contoso.com")
    for domain in DOMAINS:   # relayed by the servers' anonymous receive connectors
        new_object(ACCEPTED_DOMAIN, {"Name": domain, "DomainName": domain, "DomainType": "ExternalRelay"})


@contextlib.contextmanager
def transport_server(prefix, receive_port, server_values, connectors):
    """A Hub server with `server_values` (Set-TransportServer), an anonymous receive connector on
    HOST:receive_port, smart-host send connectors {name suffix: values} sourced on it, and its worker running."""
    name = unique_server_name(prefix)
    server = install_receive_server(name, f"{prefix.lower()}.contoso.com")
    server = set_object(TRANSPORT_SERVER, server, server_values)
    new_receive_connector(server, "Internet", f"{HOST}:{receive_port}", PermissionGroups="AnonymousUsers")
    for suffix, values in connectors.items():
        new_object(SEND_CONNECTOR, {"Name": f"{suffix} {name}", "DNSRoutingEnabled": False,
                                    "SourceTransportServers": [name], **values})
    worker = TransportWorker(name, WORKER_THREADS).start(wait_for=[f"{HOST}:{receive_port}"])
    try:
        yield server
    finally:
        worker.stop()
        remove_server_data(name)


def send_all(receive_port, messages):
    """Submit [(recipient, subject)] over one SMTP session to the server's receive connector."""
    with Client(HOST, receive_port) as client:
        client.ehlo("client.example.com")
        for recipient, subject in messages:
            refused = client.sendmail(
                "sender@example.com", [recipient],
                f"From: sender@example.com\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nbody\r\n")
            assert refused == {}


def subjects(sink):
    return sorted(line.removeprefix("Subject: ") for m in sink.received
                  for line in m.content.decode().splitlines() if line.startswith("Subject: "))


def nothing_queued(server):
    return server_store(server.name).ids() == [] and not QueuedMessage.objects.filter(queue__server=server).exists()


# --- Tests ---------------------------------------------------------------------------------------------------------

def test_max_per_domain_outbound_connections_bounds_the_sessions_one_smart_host_sees(organization):
    counter = ConnectionCounter()
    sent = [f"Per domain {number:02d}" for number in range(MESSAGES)]
    # One message per connection: 12 messages held 1 s each make the server want many connections at once.
    with smart_host(SLOW_HOST, SLOW_PORT, HoldingHandler(hold=1.0), counter) as sink, \
            transport_server("PD", 41025, {"MaxPerDomainOutboundConnections": 2, "MaxOutboundConnections": 1000},
                             {"Slow": {"AddressSpaces": "slow.example", "SmartHosts": f"[{SLOW_HOST}]",
                                       "Port": SLOW_PORT, "SmtpMaxMessagesPerConnection": 1}}) as server:
        send_all(41025, [("user@slow.example", subject) for subject in sent])
        arrived = wait_for(lambda: subjects(sink) == sent, timeout=60)
        assert arrived, f"the smart host got {subjects(sink)}; still queued: {queued(server)}{worker_errors(server)}"
        assert wait_for(lambda: nothing_queued(server))
    assert counter.peak == 2, f"at most 2 sessions at once, and the 12 messages made it use both: {counter.peak}"
    assert counter.total >= 2


def test_max_outbound_connections_bounds_the_sessions_of_the_server_across_smart_hosts(organization):
    counter = ConnectionCounter()
    east = [f"East {number:02d}" for number in range(10)]
    west = [f"West {number:02d}" for number in range(4)]
    with smart_host(EAST_HOST, EAST_PORT, HoldingHandler(hold=1.0), counter) as east_sink, \
            smart_host(WEST_HOST, WEST_PORT, HoldingHandler(hold=1.0), counter) as west_sink, \
            transport_server("MO", 41026, {"MaxOutboundConnections": 2, "MaxPerDomainOutboundConnections": 20}, {
                "East": {"AddressSpaces": "east.example", "SmartHosts": f"[{EAST_HOST}]", "Port": EAST_PORT,
                         "SmtpMaxMessagesPerConnection": 1},
                "West": {"AddressSpaces": "west.example", "SmartHosts": f"[{WEST_HOST}]", "Port": WEST_PORT,
                         "SmtpMaxMessagesPerConnection": 1},
            }) as server:
        # Mail for the east smart host comes first and may take both of the server's connections (10 messages
        # at 1 s each); mail for the west one arrives meanwhile and must go out once a connection is free.
        send_all(41026, [("user@east.example", subject) for subject in east])
        wait_for(lambda: counter.open == 2, timeout=5)
        assert counter.open >= 1 and len(east_sink.received) < len(east)
        send_all(41026, [("user@west.example", subject) for subject in west])
        arrived = wait_for(lambda: (subjects(east_sink), subjects(west_sink)) == (east, west), timeout=60)
        assert arrived, (f"east got {subjects(east_sink)}, west got {subjects(west_sink)}; "
                         f"still queued: {queued(server)}{worker_errors(server)}")
        assert wait_for(lambda: nothing_queued(server))
    assert counter.peak == 2, f"at most 2 sessions at once across both smart hosts: {counter.peak}"


def test_connection_inactivity_timeout_abandons_a_silent_smart_host_and_a_later_attempt_delivers(organization):
    handler = MuteHandler()
    with smart_host(MUTE_HOST, MUTE_PORT, handler) as sink, \
            transport_server("IT", 41027, {"MessageRetryInterval": "00:00:01",
                                           "TransientFailureRetryInterval": "00:00:01"},
                             {"Mute": {"AddressSpaces": "mute.example", "SmartHosts": f"[{MUTE_HOST}]",
                                       "Port": MUTE_PORT, "ConnectionInactivityTimeOut": "00:00:02"}}) as server:
        send_all(41027, [("user@mute.example", "Muted")])

        # The default (00:10:00) would keep the session open far beyond this bound.
        assert wait_for(lambda: handler.abandoned, timeout=30), "the session with the silent smart host stayed open"
        assert 1.0 <= handler.abandoned[0] < 20
        assert sink.received == []

        # Still queued, with the reason an administrator sees in the Queue Viewer's Messages tab / Get-Message.
        assert wait_for(lambda: QueuedMessage.objects.filter(queue__server=server).exclude(last_error="").exists())
        (message,) = shell(f"Get-Message -Server {server.name}")
        assert message.display("Subject") == "Muted"
        assert "timed out" in message.display("LastError"), message.display("LastError")
        assert len(server_store(server.name).ids()) == 1

        handler.mute = False
        assert wait_for(lambda: subjects(sink) == ["Muted"], timeout=60), f"still queued: {queued(server)}"
        assert wait_for(lambda: nothing_queued(server))
    [received] = sink.received
    assert (received.mail_from, received.rcpt_tos, received.helo) == (
        "sender@example.com", ["user@mute.example"], "it.contoso.com")


def queued(server):
    """What an assertion message shows of the server's queues."""
    return [(m.subject, m.status, m.last_error) for m in QueuedMessage.objects.filter(queue__server=server)]


def worker_errors(server):
    """What an assertion message shows of the errors in the worker's log: ERROR lines and exceptions raised."""
    log = settings.EXCHANGE_DATA_DIR / server.name / "worker.log"
    lines = log.read_text().splitlines() if log.exists() else []
    errors = [line for line in lines if " ERROR " in line or re.match(r"[\w.]+(Error|Exception): ", line)]
    return "; worker errors: " + " | ".join(errors) if errors else ""
