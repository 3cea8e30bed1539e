"""Receive connector policy end to end: connector choice by remote range, greeting and extensions, STARTTLS
with the server's certificate, AUTH, ExchangeServer and externally secured sessions, RequireTLS, mutual TLS,
and the rights of each permission group (Submit, relay, sender spoofing, size limit bypass)."""
import smtplib
import ssl
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import trustme
from django.conf import settings

from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.certificates.models import TRUSTED_ROOTS_FOLDER
from exchange_console.certificates.services import import_certificate
from exchange_console.organization import setup
from exchange_console.organization.models import TransportConfig
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_CONFIG
from exchange_console.services import new_object, set_object
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    reconfigure, remove_server_data, reply, server_store, swaks, unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(22)
SHARED, NO_MATCH, CLIENT, BASIC, REQUIRE_TLS, INTERNAL, EXTERNAL, PARTNER, PLAIN, CUSTOM = range(22025, 22035)
MESSAGE = "From: a@example.com\r\nSubject: policy\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def servers(committed_db, ca):
    name, peer_name = unique_server_name("RP"), unique_server_name("RQ")
    server = install_receive_server(name, "rp.contoso.com")
    peer = install_receive_server(peer_name, "rq.contoso.com")
    setup.ensure_mailbox("alice", "alice@contoso.com", "Alice-Passw0rd")
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"TLSReceiveDomainSecureList": "fabrikam.com"})
    # Mail for an ExternalRelay domain without a send connector stays in the queue store to be looked at.
    new_object(ACCEPTED_DOMAIN, {"Name": "Relay", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    issued = ca.issue_cert("rp.contoso.com", HOST)
    import_certificate(server, issued.private_key_and_cert_chain_pem.bytes())
    roots = settings.EXCHANGE_DATA_DIR / name / TRUSTED_ROOTS_FOLDER   # partners' certificates are issued by ca
    roots.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(roots / "test-ca.pem"))
    _connectors(server)
    yield server, peer
    remove_server_data(name)
    remove_server_data(peer_name)


def _connectors(server):
    add = new_receive_connector
    # The three-connector example of docs/exchange-behaviour.md on one binding, in loopback addresses.
    add(server, "Internet", f"{HOST}:{SHARED}", "0.0.0.0-255.255.255.255", PermissionGroups="AnonymousUsers",
        Banner="220 Internet connector")
    add(server, "Branch", f"{HOST}:{SHARED}", "127.0.1.0-127.0.1.255", PermissionGroups="AnonymousUsers",
        Banner="220 Branch connector")
    add(server, "Printer", f"{HOST}:{SHARED}", "127.0.1.75", PermissionGroups="AnonymousUsers",
        Banner="220 Printer connector")
    add(server, "Elsewhere", f"{HOST}:{NO_MATCH}", "127.0.2.0/24", PermissionGroups="AnonymousUsers")
    add(server, "Client", f"{HOST}:{CLIENT}", PermissionGroups="ExchangeUsers",
        AuthMechanism=["Tls", "BasicAuth", "BasicAuthRequireTLS"])
    add(server, "Basic", f"{HOST}:{BASIC}", PermissionGroups=["AnonymousUsers", "ExchangeUsers"],
        AuthMechanism=["Tls", "BasicAuth"])
    add(server, "RequireTls", f"{HOST}:{REQUIRE_TLS}", PermissionGroups="AnonymousUsers", RequireTLS=True)
    add(server, "Internal", f"{HOST}:{INTERNAL}", PermissionGroups=["ExchangeServers", "ExchangeLegacyServers"],
        AuthMechanism=["Tls", "ExchangeServer"])
    add(server, "External", f"{HOST}:{EXTERNAL}", PermissionGroups="ExchangeServers",
        AuthMechanism=["Tls", "ExternalAuthoritative"])
    add(server, "Partner", f"{HOST}:{PARTNER}", PermissionGroups="Partners", DomainSecureEnabled=True)
    add(server, "Plain", f"{HOST}:{PLAIN}", PermissionGroups="AnonymousUsers", SizeEnabled="Disabled",
        PipeliningEnabled=False, DeliveryStatusNotificationEnabled=False, EnhancedStatusCodesEnabled=False,
        EightBitMimeEnabled=False, ChunkingEnabled=False, AuthMechanism="None")
    add(server, "Nobody", f"{HOST}:{CUSTOM}")


@pytest.fixture(scope="module")
def worker(servers):
    server, _ = servers
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{port}" for port in (SHARED, CUSTOM)])
    yield worker
    worker.stop()


@pytest.fixture
def tls(ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def ehlo_lines(client):
    return client.ehlo("client.example.com")[1].decode().splitlines()


# --- connector selection -------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("127.0.1.75", "Printer connector"), ("127.0.1.100", "Branch connector"), ("127.0.0.9", "Internet connector"),
])
def test_it_gives_each_client_the_connector_with_the_most_specific_remote_range(worker, source, expected):
    output, code = swaks("--server", f"{HOST}:{SHARED}", "--local-interface", source, "--quit-after", "CONNECT")
    assert f"<-  220 {expected}" in output


def test_it_refuses_a_client_that_no_connector_on_the_binding_accepts(worker):
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        Client(HOST, NO_MATCH, "127.0.0.1")
    assert refused.value.smtp_code == 421
    assert refused.value.smtp_error.decode() == "4.3.2 Service not available, closing transmission channel"


# --- greeting and extensions ---------------------------------------------------------------------------

def test_it_greets_with_the_fqdn_in_exchanges_banner_and_ehlo(worker):
    for _ in range(2):   # the second greeting's date is the clock's too, not the first one's kept
        time.sleep(1.1)
        with Client(HOST, CLIENT) as client:
            banner, _, date = client.welcome.decode().partition(" ready at ")
            greeted = datetime.now(timezone.utc)
        assert banner == "rp.contoso.com Microsoft ESMTP MAIL Service"
        assert abs(greeted - parsedate_to_datetime(date)) < timedelta(seconds=1.5)
    with Client(HOST, CLIENT) as client:
        assert ehlo_lines(client) == ["rp.contoso.com Hello [127.0.0.1]", "SIZE 10485760", "PIPELINING", "DSN",
                                      "ENHANCEDSTATUSCODES", "STARTTLS", "8BITMIME", "CHUNKING"]


def test_it_advertises_only_the_extensions_the_connector_enables(worker):
    with Client(HOST, PLAIN) as client:
        assert ehlo_lines(client) == ["rp.contoso.com Hello [127.0.0.1]"]
        assert reply(client, "MAIL FROM:<a@example.com> SIZE=1000 RET=HDRS") == (555, "Unsupported option: RET")
        assert reply(client, "STARTTLS") == (500, "Unrecognized command")


def test_it_requires_a_domain_in_ehlo_when_the_connector_says_so(worker, servers):
    server, _ = servers
    connector = ReceiveConnector.objects.get(server=server, name="Plain")
    reconfigure(worker, RECEIVE_CONNECTOR, connector, {"RequireEHLODomain": True})
    try:
        with Client(HOST, PLAIN) as client:
            assert client.ehlo("not a domain!") == (501, b"Invalid domain name")
            assert client.helo("not_a_domain") == (501, b"Invalid domain name")
            assert client.ehlo("client.example.com")[0] == 250
    finally:
        reconfigure(worker, RECEIVE_CONNECTOR, ReceiveConnector.objects.get(pk=connector.pk),
                    {"RequireEHLODomain": False})


def test_it_refuses_a_declared_size_over_max_message_size(worker):
    with Client(HOST, SHARED) as client:
        client.ehlo("client.example.com")
        assert reply(client, "MAIL FROM:<a@example.com> SIZE=10485761") == (
            552, "5.3.4 Message size exceeds fixed maximum message size")
        assert reply(client, "MAIL FROM:<a@example.com> SIZE=10485760 BODY=8BITMIME") == (250, "2.1.0 Sender OK")
        assert reply(client, "RCPT TO:<b@contoso.com> NOTIFY=SUCCESS,FAILURE") == (250, "2.1.5 Recipient OK")


# --- TLS and authentication ----------------------------------------------------------------------------

def test_it_starts_tls_with_the_servers_enabled_certificate(worker, tls):
    with Client(HOST, CLIENT) as client:
        client.ehlo("client.example.com")
        assert client.starttls(context=tls)[0] == 220
        presented = client.sock.getpeercert(binary_form=True)
    enabled = ExchangeCertificate.objects.get(server__name=worker.server_name, services="SMTP")
    assert ssl.DER_cert_to_PEM_cert(presented).strip() in enabled.certificate_pem
    assert not enabled.is_self_signed


def test_it_offers_basic_auth_only_after_starttls_when_basic_auth_requires_tls(worker, tls):
    with Client(HOST, CLIENT) as client:
        assert not any(line.startswith("AUTH") for line in ehlo_lines(client))
        assert reply(client, "AUTH PLAIN AGFsaWNlAEFsaWNlLVBhc3N3MHJk") == (
            504, "5.7.4 Unrecognized authentication type")
        client.starttls(context=tls)
        assert "AUTH PLAIN LOGIN" in ehlo_lines(client)
        assert client.login("alice@contoso.com", "Alice-Passw0rd") == (235, b"2.7.0 Authentication successful")


def test_it_relays_for_an_authenticated_mailbox_user_only(worker, tls):
    with Client(HOST, CLIENT) as client:
        client.ehlo("client.example.com")
        assert reply(client, "MAIL FROM:<alice@contoso.com>") == (530, "5.7.1 Client was not authenticated")
        client.starttls(context=tls)
        client.ehlo("client.example.com")
        client.login("alice", "Alice-Passw0rd")
        assert client.sendmail("alice@contoso.com", ["someone@example.net"], MESSAGE) == {}


def test_it_refuses_a_wrong_password_with_exchanges_reply(worker):
    output, code = swaks("--server", f"{HOST}:{BASIC}", "--auth", "LOGIN", "--auth-user", "alice@contoso.com",
                         "--auth-password", "wrong", "--from", "alice@contoso.com", "--to", "x@example.net")
    assert "<** 535 5.7.3 Authentication unsuccessful" in output


def test_it_accepts_basic_auth_without_tls_when_the_connector_allows_it(worker):
    output, code = swaks("--server", f"{HOST}:{BASIC}", "--auth", "PLAIN", "--auth-user", "alice@contoso.com",
                         "--auth-password", "Alice-Passw0rd", "--from", "alice@contoso.com",
                         "--to", "x@example.net")
    assert code == 0, output
    assert "<-  235 2.7.0 Authentication successful" in output
    assert "Queued mail for delivery" in output


def test_it_refuses_to_send_as_another_authoritative_sender(worker):
    with Client(HOST, BASIC) as client:
        client.ehlo("client.example.com")
        client.login("alice@contoso.com", "Alice-Passw0rd")
        assert reply(client, "MAIL FROM:<bob@contoso.com>") == (
            550, "5.7.1 Client does not have permissions to send as this sender")
        assert reply(client, "MAIL FROM:<alice@contoso.com>") == (250, "2.1.0 Sender OK")


def test_it_requires_starttls_before_mail_on_a_require_tls_connector(worker, tls):
    with Client(HOST, REQUIRE_TLS) as client:
        client.ehlo("client.example.com")
        assert reply(client, "MAIL FROM:<a@example.com>") == (530, "5.7.0 Must issue a STARTTLS command first")
        client.starttls(context=tls)
        client.ehlo("client.example.com")
        assert client.sendmail("a@example.com", ["b@contoso.com"], MESSAGE) == {}


def _client_certificate_context(tls, certificate_pem, key_pem, tmp_path):
    path = tmp_path / "client.pem"
    path.write_bytes(key_pem + b"\n" + certificate_pem)
    tls.load_cert_chain(str(path))
    return tls


def test_it_authenticates_the_organizations_servers_by_their_certificates(worker, servers, tls, tmp_path):
    _, peer = servers
    with Client(HOST, INTERNAL) as client:
        client.ehlo("rq.contoso.com")
        client.starttls(context=tls)
        client.ehlo("rq.contoso.com")
        assert reply(client, "MAIL FROM:<a@example.com>") == (530, "5.7.1 Client was not authenticated")
    certificate = ExchangeCertificate.objects.get(server=peer, services="SMTP")
    context = _client_certificate_context(tls, certificate.certificate_pem.encode(), certificate.private_key_pem(),
                                          tmp_path)
    with Client(HOST, INTERNAL) as client:
        client.ehlo("rq.contoso.com")
        client.starttls(context=context)
        client.ehlo("rq.contoso.com")
        assert client.sendmail("a@example.com", ["b@example.net"], MESSAGE) == {}


def test_it_treats_externally_secured_sessions_as_exchange_servers(worker):
    with Client(HOST, EXTERNAL) as client:
        client.ehlo("gateway.contoso.com")
        assert reply(client, "MAIL FROM:<ceo@contoso.com> SIZE=50000000") == (250, "2.1.0 Sender OK")
        assert reply(client, "RCPT TO:<x@example.net>") == (250, "2.1.5 Recipient OK")


def test_it_requires_a_certificate_for_the_senders_domain_from_a_domain_secure_partner(worker, ca, tls, tmp_path):
    with Client(HOST, PARTNER) as client:
        client.ehlo("mail.fabrikam.com")
        client.starttls(context=tls)
        client.ehlo("mail.fabrikam.com")
        assert reply(client, "MAIL FROM:<a@fabrikam.com>") == (454, "4.7.5 Certificate validation failure")
    wrong = ca.issue_cert("mail.tailspin.com")
    right = ca.issue_cert("fabrikam.com")
    for issued, expected in ((wrong, (454, "4.7.5 Certificate validation failure")), (right, (250, "2.1.0 Sender OK"))):
        context = ssl.create_default_context()
        ca.configure_trust(context)
        issued.configure_cert(context)
        with Client(HOST, PARTNER) as client:
            client.ehlo("mail.fabrikam.com")
            client.starttls(context=context)
            client.ehlo("mail.fabrikam.com")
            assert reply(client, "MAIL FROM:<a@fabrikam.com>") == expected
    with Client(HOST, PARTNER) as client:
        client.ehlo("mail.fabrikam.com")
        client.starttls(context=context)
        client.ehlo("mail.fabrikam.com")
        assert client.sendmail("a@fabrikam.com", ["b@contoso.com"], MESSAGE) == {}


# --- permission groups -----------------------------------------------------------------------------------

def test_it_refuses_mail_on_a_connector_without_permission_groups(worker):
    with Client(HOST, CUSTOM) as client:
        client.ehlo("client.example.com")
        assert reply(client, "MAIL FROM:<a@example.com>") == (530, "5.7.1 Client was not authenticated")


def test_it_accepts_anonymous_mail_for_accepted_domains_including_authoritative_senders(worker):
    with Client(HOST, SHARED, "127.0.0.9") as client:
        client.ehlo("client.example.com")
        assert client.sendmail("someone@contoso.com", ["b@contoso.com"], MESSAGE) == {}


@pytest.mark.parametrize("recipient", [
    "x@example.net",
    "x%example.net@contoso.com",
    "example.net!x@contoso.com",
    "@contoso.com:x@example.net",
    "@example.net:x@contoso.com",
    '"x@example.net"@contoso.com',
    '"x%example.net"@contoso.com',
])
def test_it_refuses_relay_tricks_from_anonymous_clients(worker, recipient):
    with Client(HOST, SHARED, "127.0.0.9") as client:
        client.ehlo("client.example.com")
        client.mail("a@example.com")
        assert reply(client, f"RCPT TO:<{recipient}>") == (550, "5.7.1 Unable to relay")


def test_it_refuses_relay_tricks_through_swaks_from_another_source_address(worker):
    output, code = swaks("--server", f"{HOST}:{SHARED}", "--local-interface", "127.0.1.100",
                         "--from", "a@example.com", "--to", "x%example.net@contoso.com")
    assert "<** 550 5.7.1 Unable to relay" in output


ORGANIZATION_HEADERS = ("X-MS-Exchange-Organization-SCL: -1\r\n"
                        "X-MS-Exchange-Organization-AuthAs: Internal\r\n\tcontinued\r\n"
                        "X-MS-Exchange-Forest-RulesExecuted: HUB01\r\n")


def stored_headers(server, port, source="127.0.0.1"):
    with Client(HOST, port, source) as client:
        client.ehlo("client.example.com")
        client.mail("a@example.com")
        client.rcpt("x@relay.example")
        code, text = client.data(ORGANIZATION_HEADERS + "Subject: headers\r\n\r\nbody\r\n")
    message_id = text.decode().split("[InternalId=")[1].split("]")[0]
    return server_store(server.name).load(message_id)[1].split(b"\r\n\r\n")[0].decode()


def test_it_strips_organization_headers_from_anonymous_senders_and_says_how_they_came(worker, servers):
    server, _ = servers
    headers = stored_headers(server, SHARED, "127.0.0.9")
    assert "X-MS-Exchange-Organization-SCL" not in headers and "continued" not in headers
    assert "X-MS-Exchange-Forest-RulesExecuted" not in headers
    assert "X-MS-Exchange-Organization-AuthAs: Anonymous\r\n" in headers
    assert "X-MS-Exchange-Organization-AuthSource: rp.contoso.com\r\n" in headers
    assert "Subject: headers" in headers


def test_it_keeps_organization_headers_from_exchange_servers(worker, servers):
    server, _ = servers
    headers = stored_headers(server, EXTERNAL)
    assert headers.endswith(ORGANIZATION_HEADERS + "Subject: headers")
    assert "X-MS-Exchange-Organization-AuthSource: rp.contoso.com\r\nX-MS-Exchange-Organization-AuthAs: Internal\r\n" \
        in headers
