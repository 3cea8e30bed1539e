"""Remote domain and DSN settings on mail that leaves, through a real transport worker: SMTP in on a receive
connector, out through a smart host to an aiosmtpd peer. Which automatic messages may reach a domain
(AutoReplyEnabled, AllowedOOFType, AutoForwardEnabled, DeliveryReportEnabled), the form the others take there
(ContentType, LineWrapSize, DisplaySenderName, NonMimeCharacterSet), and the NDRs (NDRDiagnosticInfoEnabled,
GenerateCopyOfDSNFor, External DSN settings)."""
import email
from email import policy

import pytest
from django.conf import settings

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import RemoteDomain, TransportConfig
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, TRANSPORT_CONFIG
from exchange_console.services import new_object, set_object
from tests.send_peers import Sink
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, new_receive_connector, remove_server_data,
    unique_server_name, wait_for,
)
from transport.delivery.mailbox import mailbox_folder

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, SMART_HOST = "127.0.0.151", "127.0.0.152"
SENDER = "someone@outside.example"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RD")
    server = install_receive_server(name, "rd.contoso.com")
    for domain in ("partner.example", "internet.example", "plain.example", "outside.example"):
        new_object(ACCEPTED_DOMAIN, {"Name": domain, "DomainName": domain, "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:31151", PermissionGroups="AnonymousUsers")
    new_object(SEND_CONNECTOR, {"Name": f"Out {name}", "AddressSpaces": "*", "SmartHosts": f"[{SMART_HOST}]",
                                "DNSRoutingEnabled": False, "Port": 31152, "SourceTransportServers": [name]})
    new_object(REMOTE_DOMAIN, {"Name": "Partner", "DomainName": "partner.example"})
    set_object(REMOTE_DOMAIN, RemoteDomain.objects.get(name="Partner"),
               {"AllowedOOFType": "InternalLegacy", "DeliveryReportEnabled": False})
    new_object(REMOTE_DOMAIN, {"Name": "Plain", "DomainName": "plain.example"})
    set_object(REMOTE_DOMAIN, RemoteDomain.objects.get(name="Plain"),
               {"ContentType": "MimeText", "LineWrapSize": 20, "DisplaySenderName": False})
    new_object(REMOTE_DOMAIN, {"Name": "Outside", "DomainName": "outside.example"})
    set_object(REMOTE_DOMAIN, RemoteDomain.objects.get(name="Outside"), {"NDRDiagnosticInfoEnabled": False})
    new_object(MAILBOX, {"Name": "Postmaster", "PrimarySmtpAddress": "postmaster@contoso.com",
                         "Password": "P@ssw0rd-1"})
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"GenerateCopyOfDSNFor": "5.1.1,5.7.1",
                                                                 "ExternalDsnSendHtml": False})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    started = TransportWorker(server.name).start(wait_for=[f"{HOST}:31151"])
    yield started
    started.stop()


@pytest.fixture
def sink(worker):
    with Sink(SMART_HOST, 31152, replies={"nobody@internet.example": "550 5.1.1 User unknown"}) as peer:
        yield peer


def send(recipients, content):
    with Client(HOST, 31151) as client:
        client.ehlo("client.example.com")
        client.sendmail(SENDER, recipients, content.encode() if isinstance(content, str) else content,
                        mail_options=["BODY=8BITMIME"])


def message(subject, headers="", body="Hello\r\n"):
    return f"From: Some One <{SENDER}>\r\nTo: x@y.example\r\nSubject: {subject}\r\n{headers}\r\n{body}"


def arrived(sink, subject):
    return {recipient: email.message_from_bytes(m.content, policy=policy.default) for m in sink.received
            for recipient in m.rcpt_tos if f"Subject: {subject}".encode() in m.content}


def tracking():
    return "".join(path.read_text() for path in (settings.EXCHANGE_DATA_DIR).rglob("MSGTRK*.log"))


def test_it_lets_only_the_automatic_messages_each_remote_domain_allows_leave(sink):
    oof = "Auto-Submitted: auto-replied\r\nX-MS-Exchange-OOF-Type: {}\r\n"
    cases = {   # subject: (headers, recipients, those who get it)
        "OOF external": (oof.format("External"), ["a@partner.example", "a@internet.example"],
                         {"a@internet.example"}),                        # Partner: InternalLegacy; Default: External
        "OOF internal": (oof.format("Internal"), ["a@partner.example", "a@internet.example"], {"a@partner.example"}),
        "OOF legacy": (oof.format("Legacy"), ["a@partner.example", "a@internet.example"], {"a@partner.example"}),
        "Rule reply": ("Auto-Submitted: auto-replied\r\n", ["a@partner.example", "a@internet.example"],
                       {"a@partner.example"}),                           # Default (*): AutoReplyEnabled $false
        "Forwarded": ("Auto-Submitted: auto-forwarded\r\n", ["a@partner.example", "a@internet.example"],
                      {"a@partner.example"}),
        "Read receipt": ('Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n'
                         "MIME-Version: 1.0\r\n", ["a@partner.example", "a@internet.example"],
                         {"a@internet.example"}),                        # Partner: DeliveryReportEnabled $false
        "Ordinary": ("", ["a@partner.example", "a@internet.example"], {"a@partner.example", "a@internet.example"}),
    }
    for subject, (headers, recipients, _) in cases.items():
        send(recipients, message(subject, headers, "--b\r\n\r\nread\r\n--b--\r\n" if "report" in headers
                                 else "Hello\r\n"))
    assert wait_for(lambda: all(set(arrived(sink, subject)) == expected
                                for subject, (_, _, expected) in cases.items()))
    assert not [m for m in sink.received if m.mail_from == "<>"]       # dropped without an NDR
    assert wait_for(lambda: "AllowedOOFType is InternalLegacy" in tracking())
    log = tracking()
    assert "automatic replies aren't allowed to the remote domain 'Default' (*): AutoReplyEnabled is $false" in log
    assert "delivery reports aren't allowed to the remote domain 'Partner'" in log


def test_it_sends_each_remote_domain_the_form_it_asks_for(sink):
    alternative = ('MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="alt"\r\n',
                   "--alt\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                   "The quarterly figures are attached to this long line\r\n"
                   "--alt\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>The quarterly figures</p>\r\n"
                   "--alt--\r\n")
    send(["a@plain.example", "a@partner.example"], message("Figures", *alternative))
    assert wait_for(lambda: len(arrived(sink, "Figures")) == 2)
    copies = arrived(sink, "Figures")
    plain, partner = copies["a@plain.example"], copies["a@partner.example"]
    assert partner.get_content_type() == "multipart/alternative" and partner["From"] == f"Some One <{SENDER}>"
    assert plain.get_content_type() == "text/plain" and plain["From"] == SENDER   # DisplaySenderName $false
    assert plain.get_content().splitlines() == ["The quarterly", "figures are attached",
                                                "to this long line"]           # LineWrapSize 20

    send(["a@internet.example"], message("Accents", body="Caf\xe9 cr\xe8me\r\n").encode("latin-1"))
    assert wait_for(lambda: "a@internet.example" in arrived(sink, "Accents"))
    labelled = arrived(sink, "Accents")["a@internet.example"]            # Default (*): NonMimeCharacterSet
    assert labelled.get_content_charset() == "iso-8859-1" and labelled.get_content().strip() == "Caf\xe9 cr\xe8me"


def postmaster_messages():
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, "postmaster@contoso.com") / "new"
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(folder.glob("*"))] if folder.exists() else []


def test_it_writes_ndrs_as_the_transport_and_remote_domain_settings_say_and_copies_them_to_the_postmaster(sink):
    send(["nobody@internet.example"], message("Lost", "Received: from inner.outside.example\r\n"))
    assert wait_for(lambda: any(m.mail_from == "<>" and b"Undeliverable: Lost" in m.content for m in sink.received))
    ndr = next(email.message_from_bytes(m.content, policy=policy.default) for m in sink.received
               if m.mail_from == "<>" and b"Undeliverable: Lost" in m.content)
    human = ndr.get_payload()[0]
    assert human.get_content_type() == "text/plain"                        # ExternalDsnSendHtml $false
    assert "Diagnostic information for administrators" not in human.get_content()   # NDRDiagnosticInfoEnabled
    original = next(part for part in ndr.walk() if part.get_content_type() == "message/rfc822")
    attached = original.get_payload()[0]
    assert attached["Subject"] == "Lost" and attached["Received"] is None   # whole, without the servers' fields
    assert wait_for(lambda: any(m["Subject"] == "Undeliverable: Lost" for m in postmaster_messages()))
    copy = next(m for m in postmaster_messages() if m["Subject"] == "Undeliverable: Lost")
    assert "Diagnostic information for administrators" in copy.get_body(("plain",)).get_content()
