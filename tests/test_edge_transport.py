"""An Edge Transport server subscribed to the organization, end to end with real processes and sockets.

The organization (the test database) runs a Hub worker; the Edge is an installation of its own (tests/edge_helpers:
own data folder, database and broker) with its own worker. A loopback DNS server holds the Internet's MX records,
an SMTP relay stands in for a DLP appliance between the Hub and the Edge, and a partner MX requires mutual TLS.
Shown: the subscription with Microsoft's commands, the EdgeSync connectors on both sides, EdgeSync itself,
Internet -> Edge -> Hub mailbox, Hub mailbox -> DLP -> Edge -> Internet MX (once: no loop), Hub -> Edge -> partner
with mutual TLS and not to an impostor, recipient filtering, and replicated objects read-only on the Edge."""
import shutil
import smtplib
import ssl
import time

import pytest
import trustme
from django.conf import settings

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.edge.models import EdgeSubscription
from exchange_console.organization import setup
from exchange_console.organization.models import TransportConfig
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER
from exchange_console.services import new_object, set_object
from tests.dns_server import TestDNSServer
from tests.edge_helpers import EdgeInstallation
from tests.send_peers import Sink, SinkHandler
from tests.shell_helpers import ems, shell
from tests.transport_helpers import (
    SITE, Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name, wait_for,
)
from transport.delivery.mailbox import mailbox_folder

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HUB_HOST = loopback_host(92)
NETWORK = HUB_HOST.rsplit(".", 1)[0]
EDGE_HOST, DLP, DNS, INTERNET_MX, PARTNER_MX, IMPOSTOR_MX, INTERNET_CLIENT, HUB2_HOST = (
    f"{NETWORK}.{n}" for n in range(2, 10))
HUB_PORT, EDGE_PORT, EDGESYNC_PORT, DLP_PORT, DNS_PORT, MX_PORT = 43025, 43125, 43636, 43225, 43053, 43325
HUB_FQDN, HUB2_FQDN, EDGE_FQDN = "hub.contoso.test", "hub2.contoso.test", "edge.contoso.test"
ZONE = {HUB_FQDN: [("A", HUB_HOST)], HUB2_FQDN: [("A", HUB2_HOST)], EDGE_FQDN: [("A", EDGE_HOST)],
        "fabrikam.example": [("MX", 10, "mx.fabrikam.example")], "mx.fabrikam.example": [("A", INTERNET_MX)],
        "partner.test": [("MX", 10, "mx.partner.test")], "mx.partner.test": [("A", PARTNER_MX)],
        "impostor.test": [("MX", 10, "mx.impostor.test")], "mx.impostor.test": [("A", IMPOSTOR_MX)]}
SUBSCRIPTION_FILE = "C:\\EdgeSubscriptionInfo.xml"
INTERNET_CONNECTOR = f"EdgeSync - {SITE} to Internet"
INBOUND_CONNECTOR = f"EdgeSync - Inbound to {SITE}"


class Appliance(SinkHandler):
    """The DLP appliance: takes each message from the Hub and relays it to the Edge, from its own address."""

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await server.loop.run_in_executor(None, self.relay, envelope)
        return reply

    @staticmethod
    def relay(envelope):
        with Client(EDGE_HOST, EDGE_PORT, source=DLP, timeout=30) as client:
            client.ehlo("dlp.contoso.test")
            client.sendmail(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)


class PinnedClientCertificate:
    """What Sink's client_ca does with a trustme CA, for a self-signed certificate: trust exactly it."""

    def __init__(self, pem):
        self.pem = pem

    def configure_trust(self, context):
        context.load_verify_locations(cadata=self.pem)


@pytest.fixture(scope="module")
def organization(committed_db):
    name, second = unique_server_name("EH"), unique_server_name("EH")
    hub = install_receive_server(name, HUB_FQDN)
    set_object(TRANSPORT_SERVER, hub, {"InternalDNSServers": [f"{DNS}:{DNS_PORT}"]})
    # A second Hub of the site, never started: EdgeSync and the Edge's inbound mail go on without it.
    new_object(TRANSPORT_SERVER, {"Name": second, "Fqdn": HUB2_FQDN, "Site": SITE})
    new_receive_connector(hub, "Default", f"{HUB_HOST}:{HUB_PORT}", AuthMechanism="Tls,BasicAuth,ExchangeServer",
                          PermissionGroups="ExchangeUsers,ExchangeServers")
    new_object(SEND_CONNECTOR, {"Name": f"To DLP {name}", "AddressSpaces": "*", "SmartHosts": f"[{DLP}]",
                                "DNSRoutingEnabled": False, "Port": DLP_PORT, "SourceTransportServers": [name]})
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {
        "TLSSendDomainSecureList": ["partner.test", "impostor.test"]})
    ems(f"Set-TransportConfig -InternalSMTPServers {DLP}")   # the DLP appliance relays to the Edge
    ann = f"ann-{name.lower()}@contoso.com"
    setup.ensure_mailbox("Ann", ann, "Passw0rd!")
    yield hub, ann
    remove_server_data(name)


@pytest.fixture(scope="module")
def edge(organization):
    hub, _ = organization
    installation = EdgeInstallation(unique_server_name("EDGE"), EDGE_FQDN, EDGE_HOST, EDGE_PORT, EDGESYNC_PORT)
    with TestDNSServer(ZONE, DNS, DNS_PORT):
        try:
            installation.install()
            installation.ems(f"Set-TransportServer {installation.name} -InternalDNSServers {DNS}:{DNS_PORT}")
            # The partner's CA, which the Edge verifies partner certificates against.
            installation.partners_ca = trustme.CA()
            roots = installation.folder / installation.name / "TrustedRootCertificates"
            roots.mkdir(parents=True)
            (roots / "partners.pem").write_bytes(installation.partners_ca.cert_pem.bytes())
            written = installation.ems(f'New-EdgeSubscription -FileName "{SUBSCRIPTION_FILE}" -Force')
            assert "Error" not in written, written
            installation.start()
            copy = settings.EMS_FILE_ROOT / "C" / "EdgeSubscriptionInfo.xml"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(installation.file(SUBSCRIPTION_FILE), copy)
            imported = ems('New-EdgeSubscription -FileData ([byte[]]$(Get-Content -Path "C:\\EdgeSubscriptionInfo.xml" '
                           f'-Encoding Byte -ReadCount 0)) -Site "{SITE}"')
            assert installation.name in imported, imported
            ems(f'Set-SendConnector "{INTERNET_CONNECTOR}" -Port {MX_PORT}')
            worker = TransportWorker(hub.name).start(wait_for=[f"{HUB_HOST}:{HUB_PORT}"])
            try:
                assert wait_for(lambda: "Success" in ems("Start-EdgeSynchronization"), timeout=30)
                yield installation
            finally:
                worker.stop()
        finally:
            print(installation.log()[-5000:])
            installation.remove()


def mailbox(address):
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, address) / "new"
    return [path.read_bytes() for path in folder.glob("*")] if folder.exists() else []


def submit(ann, recipient, subject):
    with Client(HUB_HOST, HUB_PORT) as client:
        client.login(ann, "Passw0rd!")
        client.sendmail(ann, [recipient], f"From: {ann}\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nbody\r\n")


def test_subscribing_creates_the_edgesync_connectors_in_the_organization_and_on_the_edge(organization, edge):
    hub, _ = organization
    connectors = {record.get("Name"): record for record in shell("Get-SendConnector")}
    internet, inbound = connectors[INTERNET_CONNECTOR], connectors[INBOUND_CONNECTOR]
    assert [str(space) for space in internet.get("AddressSpaces")] == ["SMTP:*;100"]
    assert (internet.get("DNSRoutingEnabled"), internet.get("DomainSecureEnabled")) == (True, True)
    assert [str(space) for space in inbound.get("AddressSpaces")] == ["SMTP:--;1"]
    assert inbound.display("SmartHosts") == "{--}" and inbound.display("SourceTransportServers") == f"{{{edge.name}}}"
    on_edge = edge.ems("Get-SendConnector | Format-List Name,AddressSpaces,SmartHosts,SourceTransportServers")
    assert f"Name                   : {INTERNET_CONNECTOR}" in on_edge
    assert f"Name                   : {INBOUND_CONNECTOR}" in on_edge and f"{{{edge.name}}}" in on_edge
    assert f"{edge.name} {SITE}" in " ".join(edge.ems("Get-EdgeSubscription").split())
    assert f"{edge.name} {SITE} contoso.test" in " ".join(ems("Get-EdgeSubscription").split())


def test_an_accepted_domain_added_in_the_organization_reaches_the_edge_at_once_with_start_edgesynchronization(edge):
    new_object(ACCEPTED_DOMAIN, {"Name": "Tailspin", "DomainName": "tailspin.test"})
    assert "Success" in ems("Start-EdgeSynchronization")
    assert "tailspin.test" in edge.ems("Get-AcceptedDomain")


def test_an_accepted_domain_added_in_the_organization_reaches_the_edge_within_the_interval(edge):
    ems(f"Set-EdgeSyncServiceConfig {SITE} -ConfigurationSyncInterval 00:00:02")
    try:
        new_object(ACCEPTED_DOMAIN, {"Name": "Wingtip", "DomainName": "wingtip.test"})
        assert wait_for(lambda: "wingtip.test" in edge.ems("Get-AcceptedDomain"), timeout=30)
    finally:
        ems(f"Set-EdgeSyncServiceConfig {SITE} -ConfigurationSyncInterval 00:03:00")


def test_test_edgesynchronization_reports_every_kind_synchronized(edge):
    ems("Start-EdgeSynchronization")
    report = " ".join(ems("Test-EdgeSynchronization | Format-List").split())
    for kind in ("TransportServer", "TransportConfig", "AcceptedDomain", "RemoteDomain", "SendConnector",
                 "Recipient"):
        assert f"{kind}Status : Synchronized" in report
    assert f"Name : {edge.name}" in report and "FailureDetail : TransportServerStatus" in report


def test_internet_mail_reaches_the_mailbox_through_the_edge(organization, edge):
    _, ann = organization
    with Client(EDGE_HOST, EDGE_PORT, source=INTERNET_CLIENT) as client:
        client.ehlo("mail.fabrikam.example")
        client.sendmail("bob@fabrikam.example", [ann],
                        "From: bob@fabrikam.example\r\nSubject: Inbound via Edge\r\n\r\nbody\r\n")
    assert wait_for(lambda: any(b"Subject: Inbound via Edge" in mail for mail in mailbox(ann)), timeout=30)


def test_mailbox_mail_to_the_internet_goes_through_the_dlp_appliance_and_the_edge_once(organization, edge):
    _, ann = organization
    appliance = Sink(DLP, DLP_PORT)
    appliance.controller.handler = appliance.handler = Appliance()
    with Sink(INTERNET_MX, MX_PORT) as internet, appliance:
        submit(ann, "carol@fabrikam.example", "Outbound via DLP")
        assert wait_for(lambda: internet.received, timeout=30), edge.log()[-3000:]
        time.sleep(3)   # a loop would bring it back to the appliance or the MX
        assert [(m.mail_from, m.rcpt_tos) for m in appliance.received] == [(ann, ["carol@fabrikam.example"])]
        assert [m.rcpt_tos for m in internet.received] == [["carol@fabrikam.example"]]
        assert b"Subject: Outbound via DLP" in internet.received[0].content


def test_mail_to_a_domain_secure_partner_goes_from_the_hub_to_the_edge_and_on_with_mutual_tls(organization, edge):
    _, ann = organization
    edge_certificate = EdgeSubscription.objects.get().server.certificates.get().certificate_pem
    partner = Sink(PARTNER_MX, MX_PORT, tls=edge.partners_ca.issue_cert("partner.test", "mx.partner.test"),
                   client_ca=PinnedClientCertificate(edge_certificate))
    appliance = Sink(DLP, DLP_PORT)
    with partner, appliance:
        submit(ann, "dave@partner.test", "Partner via Edge")
        assert wait_for(lambda: partner.received, timeout=30), edge.log()[-3000:]
        assert [m.rcpt_tos for m in partner.received] == [["dave@partner.test"]]
        assert appliance.received == []   # domain security never goes through a connector without it


def test_mail_to_a_domain_secure_partner_is_not_handed_to_an_impostor(organization, edge):
    _, ann = organization
    impostor = Sink(IMPOSTOR_MX, MX_PORT, tls=edge.partners_ca.issue_cert("mx.northwind.example"))
    with impostor:
        submit(ann, "erin@impostor.test", "Impostor")
        assert wait_for(lambda: "impostor.test" in edge.ems("Get-Queue | Format-List NextHopDomain,Status,LastError")
                        and "Retry" in edge.ems("Get-Queue -Filter {NextHopDomain -eq 'impostor.test'} | fl Status"),
                        timeout=40)
        assert impostor.received == []


def test_an_unknown_recipient_is_refused_at_the_edge(organization, edge):
    with Client(EDGE_HOST, EDGE_PORT, source=INTERNET_CLIENT) as client:
        client.ehlo("mail.fabrikam.example")
        client.mail("bob@fabrikam.example")
        code, text = client.rcpt("nobody@contoso.com")
    assert (code, text.decode()) == (550, "5.1.1 User unknown")


def test_objects_edgesync_replicates_are_read_only_on_the_edge_and_its_receive_connectors_are_not(edge):
    refused = edge.ems('Set-AcceptedDomain contoso.com -DomainType InternalRelay', check=False)
    assert "is managed by EdgeSync" in refused and "Change it in the organization" in refused
    refused = edge.ems(f'Remove-SendConnector "{INTERNET_CONNECTOR}" -Confirm:$false', check=False)
    assert "is managed by EdgeSync" in refused
    changed = edge.ems(f'Set-ReceiveConnector "Default internal receive connector {edge.name}" -MaxMessageSize 20MB; '
                       f'Get-ReceiveConnector | Format-List MaxMessageSize')
    assert "20 MB" in changed


def test_the_edgesync_listener_refuses_a_peer_without_a_hub_certificate_or_bootstrap_credential(edge):
    import http.client

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    trustme.CA().issue_cert("hub.contoso.test").configure_cert(context)
    connection = http.client.HTTPSConnection(EDGE_HOST, EDGESYNC_PORT, context=context, timeout=10)
    try:
        connection.request("POST", "/edgesync/apply", b"{}", {"Authorization": "Basic ZmFrZTpmYWtl"})
        response = connection.getresponse()
        assert response.status == 401
    except ssl.SSLError:
        pass   # or the handshake itself fails: a client certificate the Edge doesn't trust
    finally:
        connection.close()


def test_a_mailbox_created_in_the_organization_is_accepted_at_the_running_edge_after_synchronization(edge):
    address = f"frank-{edge.name.lower()}@contoso.com"
    with Client(EDGE_HOST, EDGE_PORT, source=INTERNET_CLIENT) as client:
        client.ehlo("mail.fabrikam.example")
        client.mail("bob@fabrikam.example")
        assert client.rcpt(address)[0] == 550
    setup.ensure_mailbox("Frank", address, "Passw0rd!")
    assert "Success" in ems("Start-EdgeSynchronization")

    def accepted():
        with Client(EDGE_HOST, EDGE_PORT, source=INTERNET_CLIENT) as client:
            client.ehlo("mail.fabrikam.example")
            client.mail("bob@fabrikam.example")
            return client.rcpt(address)[0] == 250
    assert wait_for(accepted, timeout=15)   # the Edge's worker reloaded: no restart


def hops(command):
    """(server, action, connector) of each hop Get-MailRoute explains."""
    return [(hop.get("Server"), hop.get("Action"), hop.get("Connector")) for hop in shell(command)]


def test_get_mailroute_explains_what_the_workers_did(organization, edge):
    """Each path was taken by the real workers in the tests above; Get-MailRoute runs the same routing code."""
    hub, ann = organization
    assert hops(f"Get-MailRoute -Sender {ann} -Recipient carol@fabrikam.example") == [
        (hub.name, "Route", f"To DLP {hub.name}")]
    [first, second] = shell("Get-MailRoute -Recipient dave@partner.test")
    assert (first.get("Server"), first.get("Action"), first.get("Connector")) == (
        hub.name, "Relay", INTERNET_CONNECTOR)
    assert first.get("NextHop") == f"{EDGE_FQDN}:{EDGE_PORT}" and "Direct Trust" in first.get("Tls")
    assert any(line.startswith(f"To DLP {hub.name}: not a candidate: partner.test is in TLSSendDomainSecureList")
               for line in first.get("Candidates"))
    assert (second.get("Server"), second.get("Action"), second.get("Connector")) == (
        edge.name, "Route", INTERNET_CONNECTOR)
    assert "name partner.test; mutual TLS" in second.get("Tls")
    assert hops(f"Get-MailRoute -Recipient {ann} -Server {edge.name}") == [
        (edge.name, "Relay", INBOUND_CONNECTOR), (hub.name, "Deliver", "")]
    assert hops(f"Get-MailRoute -Recipient nobody@contoso.com -Server {hub.name}") == [(hub.name, "NDR", "")]


def test_removing_the_subscription_on_both_sides(organization, edge):
    ems(f"Remove-EdgeSubscription {edge.name} -Confirm:$false")
    assert ems("Get-EdgeSubscription").strip() == ""
    names = [record.get("Name") for record in shell("Get-SendConnector")]
    assert INTERNET_CONNECTOR not in names and INBOUND_CONNECTOR not in names
    assert edge.name not in ems("Get-TransportServer")

    edge.ems(f"Remove-EdgeSubscription {edge.name} -Confirm:$false")
    assert "contoso.com" not in edge.ems("Get-AcceptedDomain") and edge.ems("Get-SendConnector").strip() == ""
    created = edge.ems("New-AcceptedDomain -Name Local -DomainName local.test")
    assert "local.test" in created   # managed on the Edge again
