"""Coexistence with Exchange 2003 with a real transport worker and real sockets: mail for a mailbox homed on a
legacy server leaves over the cheapest routing group connector to sinks standing in for the 2003 bridgeheads
(and over the other once Set-RoutingGroupConnector -Cost makes it dearer); a "2003 server" presenting its
certificate relays through the Hub with the ExchangeLegacyServers permission group's rights, which the protocol log
shows, and a local mailbox receives its mail; an anonymous client gets none of those rights."""
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_SERVER
from exchange_console.services import new_object, set_object
from tests.dns_server import TestDNSServer
from tests.send_peers import Sink
from tests.shell_helpers import ems
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    reconfigure, remove_server_data, reply, server_store, unique_server_name, wait_for,
)
from transport.delivery.mailbox import mailbox_folder

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(73)
INBOUND, FROM_LEGACY, BRIDGEHEAD_A, BRIDGEHEAD_B, DNS_PORT = 31301, 31302, 31303, 31304, 31305
LEGACY_RIGHTS = ("SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                 "BypassAntiSpam BypassMessageSizeLimit SMTPAcceptAuthenticationFlag AcceptRoutingHeaders")


def self_signed(common_name, fqdn, folder):
    """An Exchange 2003 server's self-signed certificate and key, written to folder; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(fqdn)]), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{common_name}.pem", folder / f"{common_name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed("EX2003A", "ex2003a.contoso.com", tmp_path_factory.mktemp("legacy"))


@pytest.fixture(scope="module")
def dns():
    zone = {"ex2003a.contoso.com": [("A", HOST)], "ex2003b.contoso.com": [("A", HOST)]}
    with TestDNSServer(zone, HOST, DNS_PORT) as server:
        yield server


@pytest.fixture(scope="module")
def server(committed_db, certificate, dns):
    """A Hub whose internal DNS knows the two 2003 bridgeheads of First Routing Group: Cheap (cost 1) leads to
    EX2003A, Dear (cost 10) to EX2003B; Lee's mailbox is on EX2003A, Ann's on this Hub."""
    name = unique_server_name("RG")
    server = install_receive_server(name, "rg.contoso.com")
    new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam relay", "DomainName": "fabrikam.example",
                                 "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Inbound", f"{HOST}:{INBOUND}", PermissionGroups="AnonymousUsers")
    new_receive_connector(server, "From legacy", f"{HOST}:{FROM_LEGACY}", PermissionGroups="ExchangeLegacyServers",
                          AuthMechanism="Tls,ExchangeServer", ProtocolLoggingLevel="Verbose")
    set_object(TRANSPORT_SERVER, server, {"InternalDNSServers": [dns.endpoint]})
    pem = certificate[0].read_text()
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        f"New-LegacyExchangeServer EX2003A -Fqdn ex2003a.contoso.com -RoutingGroup 'First Routing Group' "
        f"-Port {BRIDGEHEAD_A} -Certificate '{pem}'\n"
        f"New-LegacyExchangeServer EX2003B -Fqdn ex2003b.contoso.com -RoutingGroup 'First Routing Group' "
        f"-Port {BRIDGEHEAD_B}\n"
        f"New-RoutingGroupConnector Cheap -SourceTransportServers {name} -TargetTransportServers EX2003A -Cost 1\n"
        f"New-RoutingGroupConnector Dear -SourceTransportServers {name} -TargetTransportServers EX2003B -Cost 10\n"
        "New-Mailbox Lee -PrimarySmtpAddress lee@contoso.com -Password (ConvertTo-SecureString 'Passw0rd!' "
        "-AsPlainText -Force) -Database 'EX2003A\\First Storage Group\\Mailbox Store (EX2003A)'")
    setup.ensure_mailbox("Ann", f"ann-{name.lower()}@contoso.com", "Passw0rd!")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    started = TransportWorker(server.name).start(wait_for=[f"{HOST}:{INBOUND}", f"{HOST}:{FROM_LEGACY}"])
    yield started
    started.stop()


def send(recipient, subject):
    with Client(HOST, INBOUND) as client:
        client.ehlo("client.example.com")
        client.sendmail("sender@example.com", [recipient], f"From: sender@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n")


def mailbox(address):
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, address) / "new"
    return [path.read_bytes() for path in folder.glob("*")] if folder.exists() else []


def session_permissions(server):
    log = (Path(settings.EXCHANGE_DATA_DIR) / server.name / server.receive_protocol_log_path
           / f"RECV{datetime.datetime.now(datetime.timezone.utc):%Y%m%d}-1.log")
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.rsplit(",", 2)[1] for line in lines if line.endswith(",Set Session Permissions")]


def test_a_legacy_mailbox_gets_its_mail_over_the_cheapest_routing_group_connector(worker, server):
    with Sink(HOST, BRIDGEHEAD_A) as cheap, Sink(HOST, BRIDGEHEAD_B) as dear:
        send("lee@contoso.com", "To Lee")
        assert wait_for(lambda: cheap.received)
        assert [(m.mail_from, m.rcpt_tos) for m in cheap.received] == [("sender@example.com", ["lee@contoso.com"])]
        assert b"Subject: To Lee" in cheap.received[0].content and dear.received == []

        ems("Set-RoutingGroupConnector 'Exchange Routing Group (DWBGZMFD01QNBJR)\\Cheap' -Cost 20")
        hub = TransportServer.objects.get(name=server.name)   # the send side's change, waited for by a save
        reconfigure(worker, TRANSPORT_SERVER, hub, {"MessageRetryInterval": hub.message_retry_interval})
        send("lee@contoso.com", "Cost changed")
        assert wait_for(lambda: dear.received)
        assert [m.rcpt_tos for m in dear.received] == [["lee@contoso.com"]] and len(cheap.received) == 1
    assert wait_for(lambda: server_store(server.name).ids() == [])
    assert mailbox("lee@contoso.com") == []


def legacy_client(certificate=None):
    client = Client(HOST, FROM_LEGACY)
    client.ehlo("ex2003a.contoso.com")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if certificate:
        context.load_cert_chain(*map(str, certificate))
    client.starttls(context=context)
    client.ehlo("ex2003a.contoso.com")
    return client


def test_a_2003_server_presenting_its_certificate_gets_exchange_legacy_servers_rights(worker, server, certificate):
    ann = f"ann-{server.name.lower()}@contoso.com"
    with legacy_client(certificate) as client:
        client.sendmail("someone@contoso.com", [ann], "From: someone@contoso.com\r\nSubject: From 2003\r\n\r\nbody\r\n")
    assert wait_for(lambda: mailbox(ann))
    assert b"Subject: From 2003" in mailbox(ann)[0]
    assert session_permissions(server)[-1] == LEGACY_RIGHTS


def test_an_anonymous_client_on_that_connector_gets_no_rights(worker, server):
    with legacy_client() as client:
        assert reply(client, "MAIL FROM:<someone@contoso.com>") == (530, "5.7.1 Client was not authenticated")
    assert session_permissions(server)[-1] == ""
