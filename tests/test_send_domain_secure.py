"""Domain security is never downgraded, end to end through a real transport worker: mail to a domain in
TLSSendDomainSecureList whose partner fails mutual-TLS validation (a trustme certificate naming another host)
stays queued in Retry and is never handed, by routing or by failover, to a connector without DomainSecureEnabled
that would have delivered it (another aiosmtpd sink). The partners' MX records come from a real DNS server."""
from dataclasses import replace

import pytest
import trustme
from django.conf import settings

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import TransportConfig
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER
from transport.queue.models import MessageStatus, QueuedMessage, QueueStatus
from exchange_console.services import new_object, set_object
from tests.dns_server import TestDNSServer
from tests.send_peers import Sink
from tests.shell_helpers import shell
from tests.test_routing import SITES, foreign
from tests.test_routing import send as send_connector
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name, wait_for,
)
from transport.routing import UNREACHABLE, choose_connector

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(81)                       # the receive connector; the peers are its neighbours
NETWORK = HOST.rsplit(".", 1)[0]
PARTNER_MX, INTERNET_SMART_HOST, DNS = f"{NETWORK}.2", f"{NETWORK}.3", f"{NETWORK}.4"
PORT, PARTNER_PORT, INTERNET_PORT, DNS_PORT = 42025, 42026, 42027, 42053
SECURE_DOMAINS = ("partner.test", "fabrikam.example")
ZONE = {"partner.test": [("MX", 10, "mx.partner.test")], "fabrikam.example": [("MX", 10, "mx.partner.test")],
        "mx.partner.test": [("A", PARTNER_MX)]}


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("DS")
    server = install_receive_server(name, "ds.contoso.com")
    for domain in SECURE_DOMAINS:
        new_object(ACCEPTED_DOMAIN, {"Name": domain, "DomainName": domain, "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:{PORT}", PermissionGroups="AnonymousUsers")
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"TLSSendDomainSecureList": list(SECURE_DOMAINS)})
    set_object(TRANSPORT_SERVER, server, {"ExternalDNSServers": [f"{DNS}:{DNS_PORT}"],
                                          "InternalDNSServers": [f"{DNS}:{DNS_PORT}"]})
    # Without domain security, and cheaper: it would deliver everything at once.
    new_object(SEND_CONNECTOR, {"Name": "Internet", "AddressSpaces": ["*;1", "*.test;1"],
                                "SmartHosts": f"[{INTERNET_SMART_HOST}]", "DNSRoutingEnabled": False,
                                "Port": INTERNET_PORT, "SourceTransportServers": [name]})
    # Domain secured: as specific for partner.test as the Internet connector, but costlier.
    new_object(SEND_CONNECTOR, {"Name": "Partners", "AddressSpaces": "*.test;10", "DomainSecureEnabled": True,
                                "Port": PARTNER_PORT, "SourceTransportServers": [name]})
    # Domain secured and the most specific for fabrikam.example: when it fails, failover looks further.
    new_object(SEND_CONNECTOR, {"Name": "Fabrikam", "AddressSpaces": "fabrikam.example", "DomainSecureEnabled": True,
                                "Port": PARTNER_PORT, "SourceTransportServers": [name]})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def peers(server):
    """The partners' MX presents a certificate for another host; the Internet smart host takes anything."""
    ca = trustme.CA()
    roots = settings.EXCHANGE_DATA_DIR / server.name / "TrustedRootCertificates"
    roots.mkdir(parents=True, exist_ok=True)
    (roots / "partners-ca.pem").write_bytes(ca.cert_pem.bytes())
    with TestDNSServer(ZONE, DNS, DNS_PORT), \
            Sink(PARTNER_MX, PARTNER_PORT, tls=ca.issue_cert("mx.northwind.example")) as partner, \
            Sink(INTERNET_SMART_HOST, INTERNET_PORT) as internet:
        worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
        try:
            yield partner, internet
        finally:
            worker.stop()


def send(recipient, subject):
    with Client(HOST, PORT) as client:
        client.sendmail("sender@example.com", [recipient],
                        f"From: sender@example.com\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nbody\r\n")


def deferred(server, recipient):
    """The DEFER lines of the tracking log for `recipient`."""
    return [line for path in (settings.EXCHANGE_DATA_DIR / server.name).rglob("MSGTRK*.log")
            for line in path.read_text().splitlines() if ",DEFER," in line and recipient in line]


@pytest.mark.parametrize("recipient, connector", [
    ("bob@partner.test", "Partners"),           # routing: the cheaper connector lacks domain security
    ("carol@fabrikam.example", "Fabrikam"),     # failover: the next connector by cost lacks domain security
])
def test_it_keeps_mail_for_a_domain_secure_partner_in_retry_instead_of_downgrading(server, peers, recipient,
                                                                                   connector):
    partner, internet = peers
    send(recipient, f"Secure {connector}")
    assert wait_for(lambda: deferred(server, recipient), timeout=20), "no DEFER in the tracking log"
    [line] = deferred(server, recipient)
    assert f",{connector},SMTP,DEFER," in line and "isn't valid for" in line
    [message] = shell(f"Get-Message -Server {server.name} -Filter {{Subject -eq 'Secure {connector}'}}")
    assert message.display("Status") == MessageStatus.RETRY
    queued = QueuedMessage.objects.select_related("queue").get(subject=f"Secure {connector}")
    assert (queued.queue.next_hop_connector, queued.queue.status) == (connector, QueueStatus.RETRY)
    assert partner.received == internet.received == []


ROUTES = [send_connector("Internet", ["*;1", "*.test;1"]), foreign("Gateway", ["partner.test"]),
          replace(send_connector("Partners", ["*;10", "*.test;10"]), domain_secure_enabled=True),
          replace(send_connector("Fabrikam", ["fabrikam.example"]), domain_secure_enabled=True)]


@pytest.mark.parametrize("domain, expected", [
    ("partner.test", "Partners"),               # cost (or a foreign connector's specificity) would pick another
    ("fabrikam.example", "Partners"),           # Fabrikam is failing: the next domain-secured one, never Internet
    ("northwind.example", "Internet"),          # not in the list: routed by cost as before
])
def test_it_routes_a_domain_secure_domain_only_to_domain_secured_connectors(domain, expected):
    route = choose_connector(ROUTES, domain, 100, "HUB01", SITES, unavailable={"Fabrikam"},
                             domain_secure=domain in SECURE_DOMAINS)
    assert route.connector.name == expected


def test_it_leaves_a_domain_secure_domain_unreachable_without_a_domain_secured_connector():
    route = choose_connector(ROUTES[:2], "partner.test", 100, "HUB01", SITES, domain_secure=True)
    assert (route.connector, route.failure) == (None, UNREACHABLE)
