"""Delivery of queued messages over real loopback SMTP peers (aiosmtpd) and a real DNS server (dnslib): the
categorizer, the queues, the SMTP client, retry, expiry and NDRs, run in this process task by task."""
import email
from datetime import timedelta
from email import policy

import pytest
import trustme
from django.conf import settings

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.organization.models import RemoteDomain, TransportConfig, TransportServer
from exchange_console.organization.schemas import REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER
from transport.queue.models import DeliveryQueue, DeliveryType, QueuedMessage, QueueStatus
from exchange_console.services import new_object, set_object
from tests.dns_server import TestDNSServer
from tests.shell_helpers import shell
from tests.send_peers import Sink, TaskRecorder
from tests.transport_helpers import server_store
from transport.delivery.mailbox import mailbox_folder
from transport import dispatch

SENDER = "alice@contoso.com"


@pytest.fixture
def tasks(monkeypatch):
    recorder = TaskRecorder(monkeypatch)
    yield recorder
    recorder.close()


@pytest.fixture
def org(transactional_db, hub, tmp_path, settings, monkeypatch):
    settings.EXCHANGE_DATA_DIR = tmp_path
    setup.ensure_mailbox("Alice", SENDER, "Passw0rd!")
    return hub


def smart_host_connector(name, address, port, **values):
    return new_object(SEND_CONNECTOR, {"Name": name, "AddressSpaces": "*", "SmartHosts": f"[{address}]",
                                       "DNSRoutingEnabled": False, "Port": port, **values})


def submit(tasks, rcpt_tos, subject="Hello", sender=SENDER, server="HUB01"):
    content = (f"From: {sender}\r\nTo: {', '.join(rcpt_tos)}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject.replace(' ', '-')}@contoso.com>\r\n\r\nBody line\r\n").encode()
    envelope = server_store(server).accept(
        content, mail_from=sender, rcpt_tos=rcpt_tos, received_connector=f"{server}\\Default {server}",
        client_ip="127.0.0.1", client_hostname="client.contoso.com", auth_user="", size=len(content),
        header_message_id=f"<{subject}@contoso.com>", subject=subject)
    dispatch.categorize_messages(server, [envelope.message_id])
    tasks.run()
    return envelope


def mailbox_messages(address):
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, address) / "new"
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(folder.glob("*"))] if folder.exists() else []


def delivery_status(report):
    part = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
    return [{name: value.strip() for name, value in block.items()} for block in part.get_payload()]


def tracking_lines(server="HUB01"):
    return [line for path in (settings.EXCHANGE_DATA_DIR / server).rglob("MSGTRK*.log")
            for line in path.read_text().splitlines() if not line.startswith("#")]


def store_ids(server="HUB01"):
    return server_store(server).ids()


def expire_retries():
    """Let every waiting retry come due now (instead of sleeping through the interval)."""
    QueuedMessage.objects.update(next_retry_time=None)
    DeliveryQueue.objects.update(next_retry_time=None)


def test_it_delivers_through_the_smart_host_with_the_connector_fqdn(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.21", 30021, Fqdn="relay.contoso.com")
    with Sink("127.0.0.21", 30021) as sink:
        envelope = submit(tasks, ["bob@fabrikam.com", "carol@fabrikam.com"])
    assert [(m.mail_from, m.rcpt_tos, m.helo) for m in sink.received] == [
        (SENDER, ["bob@fabrikam.com", "carol@fabrikam.com"], "relay.contoso.com")]
    assert b"Subject: Hello" in sink.received[0].content
    assert store_ids() == [] and not QueuedMessage.objects.exists()
    tracking = "".join(p.read_text() for p in (settings.EXCHANGE_DATA_DIR / "HUB01").rglob("MSGTRK*.log"))
    assert f",SEND,{envelope.message_id},<Hello@contoso.com>,bob@fabrikam.com;carol@fabrikam.com," in tracking


def test_it_sends_helo_when_the_connector_forces_it(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.22", 30022, ForceHELO=True)
    with Sink("127.0.0.22", 30022) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert len(sink.received) == 1 and sink.received[0].helo == "hub01.contoso.com"
    assert not sink.received[0].tls  # HELO offers no STARTTLS


def test_it_authenticates_to_the_smart_host_after_starttls(org, tasks):
    ca = trustme.CA()
    smart_host_connector("Authenticated", "127.0.0.23", 30023, SmartHostAuthMechanism="BasicAuthRequireTLS",
                         AuthenticationCredential=("relayuser", "S3cret!"))
    with Sink("127.0.0.23", 30023, tls=ca.issue_cert("relay.fabrikam.com"),
              credentials=("relayuser", "S3cret!")) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert [(m.tls, m.auth_user) for m in sink.received] == [(True, "relayuser")]


def test_it_keeps_the_message_queued_when_the_smart_host_refuses_the_credential(org, tasks):
    ca = trustme.CA()
    smart_host_connector("Authenticated", "127.0.0.24", 30024, SmartHostAuthMechanism="BasicAuth",
                         AuthenticationCredential=("relayuser", "wrong"))
    with Sink("127.0.0.24", 30024, tls=ca.issue_cert("relay.fabrikam.com"),
              credentials=("relayuser", "S3cret!")) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert sink.received == []
    queue = DeliveryQueue.objects.get(delivery_type=DeliveryType.SMART_HOST_CONNECTOR)
    assert queue.status == QueueStatus.RETRY and "535" in queue.last_error
    assert queue.message_count == 1 and len(store_ids()) == 1


def test_it_requires_tls_when_the_connector_says_so(org, tasks):
    ca = trustme.CA()
    connector = smart_host_connector("Secure", "127.0.0.25", 30025, RequireTLS=True)
    with Sink("127.0.0.25", 30025) as plain:
        submit(tasks, ["bob@fabrikam.com"])
    assert plain.received == []
    queue = DeliveryQueue.objects.get(delivery_type=DeliveryType.SMART_HOST_CONNECTOR)
    assert "STARTTLS" in queue.last_error and queue.message_count == 1

    set_object(SEND_CONNECTOR, connector, {"SmartHosts": "[127.0.0.26]", "Port": 30026})
    expire_retries()
    with Sink("127.0.0.26", 30026, tls=ca.issue_cert("relay.fabrikam.com")) as secure:
        dispatch.categorize_messages("HUB01", [store_ids()[0]])   # what a restart does; the queue is resumed
        tasks.run()
    assert [m.tls for m in secure.received] == [True]
    assert store_ids() == []


@pytest.mark.parametrize("tls_domain, delivered", [("relay.fabrikam.com", True), ("*.fabrikam.com", True),
                                                   ("relay.northwind.com", False)])
def test_it_checks_the_certificate_name_for_domain_validation(org, tasks, tls_domain, delivered):
    ca = trustme.CA()
    trust(ca, "HUB01")
    smart_host_connector("Validated", "127.0.0.27", 30027, RequireTLS=True, TlsAuthLevel="DomainValidation",
                         TlsDomain=tls_domain)
    with Sink("127.0.0.27", 30027, tls=ca.issue_cert("relay.fabrikam.com")) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert len(sink.received) == (1 if delivered else 0)
    if not delivered:
        assert "isn't valid for relay.northwind.com" in DeliveryQueue.objects.get(
            delivery_type=DeliveryType.SMART_HOST_CONNECTOR).last_error


def test_it_refuses_a_certificate_from_an_untrusted_root_for_certificate_validation(org, tasks):
    smart_host_connector("Validated", "127.0.0.28", 30028, RequireTLS=True, TlsAuthLevel="CertificateValidation")
    with Sink("127.0.0.28", 30028, tls=trustme.CA().issue_cert("relay.fabrikam.com")) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert sink.received == []
    assert "CERTIFICATE_VERIFY_FAILED" in QueuedMessage.objects.get().last_error


def trust(ca, server_name):
    folder = settings.EXCHANGE_DATA_DIR / server_name / "TrustedRootCertificates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-ca.pem").write_bytes(ca.cert_pem.bytes())


@pytest.fixture
def fabrikam_dns(org):
    """The external DNS server knows fabrikam.com and the others; the internal one only an internal route."""
    external = {
        "fabrikam.com": [("MX", 10, "mx1.fabrikam.com"), ("MX", 20, "mx2.fabrikam.com")],
        "mx1.fabrikam.com": [("A", "127.0.0.31")],
        "mx2.fabrikam.com": [("A", "127.0.0.32")],
        "northwind.com": [("A", "127.0.0.33")],                          # no MX: its own address
        "nullmx.com": [("MX", 0, ".")],                                    # RFC 7505
    }
    internal = {"fabrikam.com": [("MX", 5, "gateway.contoso.com")], "gateway.contoso.com": [("A", "127.0.0.30")]}
    with TestDNSServer(external, "127.0.0.53", 30053) as dns, TestDNSServer(internal, "127.0.0.54", 30054) as dns2:
        set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"),
                   {"ExternalDNSServers": [dns.endpoint], "InternalDNSServers": [dns2.endpoint]})
        yield dns


def dns_connector(**values):
    return new_object(SEND_CONNECTOR, {"Name": "Internet", "AddressSpaces": "*", "Port": 30031,
                                       "UseExternalDNSServersEnabled": True, **values})


def test_it_delivers_to_the_best_mx_host_that_answers(fabrikam_dns, tasks):
    dns_connector()
    with Sink("127.0.0.32", 30031) as mx2:     # mx1 (preference 10) has no listener
        submit(tasks, ["bob@fabrikam.com"])
    assert [m.rcpt_tos for m in mx2.received] == [["bob@fabrikam.com"]]
    queue = DeliveryQueue.objects.get()
    assert (queue.delivery_type, queue.next_hop_domain, queue.status) == (
        DeliveryType.DNS_CONNECTOR, "fabrikam.com", QueueStatus.READY)


def test_it_falls_back_to_the_address_of_a_domain_without_mx(fabrikam_dns, tasks):
    dns_connector()
    with Sink("127.0.0.33", 30031) as host:
        submit(tasks, ["bob@northwind.com"])
    assert len(host.received) == 1


def test_it_uses_the_internal_dns_servers_unless_the_connector_says_external(fabrikam_dns, tasks):
    dns_connector(UseExternalDNSServersEnabled=False)
    with Sink("127.0.0.30", 30031) as internal_route:
        submit(tasks, ["bob@fabrikam.com"])
    assert [m.rcpt_tos for m in internal_route.received] == [["bob@fabrikam.com"]]


def test_it_returns_an_ndr_at_once_for_a_null_mx_domain(fabrikam_dns, tasks):
    dns_connector()
    submit(tasks, ["bob@nullmx.com"], subject="To null MX")
    [ndr] = mailbox_messages(SENDER)
    [_, recipient] = delivery_status(ndr)
    assert (recipient["Status"], recipient["Action"]) == ("5.1.10", "failed")
    assert recipient["Diagnostic-Code"].startswith("smtp;556 5.1.10")
    assert store_ids() == []


def test_it_returns_a_message_larger_than_max_send_size_to_its_authenticated_sender(org, tasks):
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"MaxSendSize": "1KB"})
    smart_host_connector("To Smart Host", "127.0.0.34", 30034)
    content = (f"From: {SENDER}\r\nTo: bob@fabrikam.com\r\nSubject: Big\r\n\r\n" + "xxxxxxxxx\r\n" * 200).encode()
    with Sink("127.0.0.34", 30034) as sink:
        for auth_user, subject in ((SENDER, "Big"), ("", "Big but anonymous")):
            envelope = server_store("HUB01").accept(
                content, mail_from=SENDER, rcpt_tos=["bob@fabrikam.com"], received_connector="HUB01\\Client HUB01",
                client_ip="127.0.0.1", client_hostname="client.contoso.com", auth_user=auth_user,
                size=len(content), header_message_id=f"<{subject}@contoso.com>", subject=subject)
            dispatch.categorize_messages("HUB01", [envelope.message_id])
            tasks.run()
    assert len(sink.received) == 1    # MaxSendSize limits the organization's (authenticated) senders only
    [ndr] = mailbox_messages(SENDER)
    assert ndr["Subject"] == "Undeliverable: Big"
    assert delivery_status(ndr)[1]["Status"] == "5.2.3"
    assert "RESOLVER.RST.SendSizeLimit.Org" in delivery_status(ndr)[1]["Diagnostic-Code"]


def test_it_returns_an_rfc3464_ndr_for_a_permanent_refusal(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.34", 30034)
    with Sink("127.0.0.34", 30034, replies={"nobody@fabrikam.com": "550 5.1.1 User unknown"}) as sink:
        submit(tasks, ["bob@fabrikam.com", "nobody@fabrikam.com"], subject="Quarterly report")
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    [ndr] = mailbox_messages(SENDER)
    assert ndr["From"] == TransportConfig.objects.get().postmaster_address() == "postmaster@contoso.com"
    assert ndr["Subject"] == "Undeliverable: Quarterly report"
    assert ndr.get_content_type() == "multipart/report" and ndr.get_param("report-type") == "delivery-status"
    assert "Delivery has failed to these recipients or groups:" in ndr.get_body(("plain",)).get_content()
    per_message, recipient = delivery_status(ndr)
    assert per_message["Reporting-MTA"] == "dns;hub01.contoso.com"
    assert recipient == {**recipient, "Final-Recipient": "rfc822;nobody@fabrikam.com", "Action": "failed",
                         "Status": "5.1.1", "Diagnostic-Code": "smtp;550 5.1.1 User unknown",
                         "Remote-MTA": "dns;[127.0.0.34]"}
    original = next(p for p in ndr.walk() if p.get_content_type() == "message/rfc822")   # whole up to 10 MB
    assert original.get_payload()[0]["Subject"] == "Quarterly report"
    assert store_ids() == []


def test_it_never_sends_an_ndr_to_the_null_sender(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.35", 30035)
    with Sink("127.0.0.35", 30035, replies={"nobody@fabrikam.com": "550 5.1.1 User unknown"}):
        submit(tasks, ["nobody@fabrikam.com"], sender="")
    assert store_ids() == [] and mailbox_messages(SENDER) == []


def test_it_follows_the_remote_domain_ndr_setting(org, tasks):
    new_object(REMOTE_DOMAIN, {"Name": "Fabrikam", "DomainName": "fabrikam.com"})
    set_object(REMOTE_DOMAIN, RemoteDomain.objects.get(name="Fabrikam"), {"NDREnabled": False})
    smart_host_connector("To Smart Host", "127.0.0.36", 30036)
    with Sink("127.0.0.36", 30036, replies={"nobody@northwind.com": "550 5.1.1 User unknown",
                                             "nobody@fabrikam.com": "550 5.1.1 User unknown"}) as sink:
        submit(tasks, ["nobody@northwind.com"], sender="eve@fabrikam.com")   # no NDR to fabrikam.com
        submit(tasks, ["nobody@fabrikam.com"], sender="dan@northwind.com")   # Default remote domain: NDR
    assert [(m.mail_from, m.rcpt_tos) for m in sink.received] == [("<>", ["dan@northwind.com"])]


def test_it_retries_a_deferred_recipient_until_it_is_accepted(org, tasks):
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {"MessageRetryInterval": "00:00:30"})
    smart_host_connector("To Smart Host", "127.0.0.37", 30037)
    with Sink("127.0.0.37", 30037, replies={"bob@fabrikam.com": "451 4.3.0 Try again later"}) as sink:
        submit(tasks, ["bob@fabrikam.com"])
        message = QueuedMessage.objects.get()
        assert (message.status, message.last_error) == ("Retry", "451 4.3.0 Try again later")
        assert [countdown for _, _, _, countdown in tasks.sent] == [pytest.approx(30, abs=2)]
        sink.handler.replies.clear()
        expire_retries()
        tasks.run(include_delayed=True)
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert store_ids() == [] and not QueuedMessage.objects.exists()


def test_internal_delay_dsns_off_leaves_only_the_ndr_and_the_reporting_authority_names_the_domain(org, tasks):
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {
        "InternalDelayDsnEnabled": False, "InternalDsnReportingAuthority": "contoso.com",
        "InternalDsnSendHtml": False, "InternalDsnMaxMessageAttachSize": 0})
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {
        "DelayNotificationTimeout": "00:00:10", "MessageExpirationTimeout": "01:00:00",
        "TransientFailureRetryInterval": "00:00:01", "MessageTrackingLogSubjectLoggingEnabled": False})
    smart_host_connector("Down", "127.0.0.38", 30038)     # nothing listens there
    envelope = submit(tasks, ["bob@fabrikam.com"], subject="Late")
    for waited in (timedelta(seconds=11), timedelta(hours=1, seconds=1)):
        QueuedMessage.objects.update(date_received=envelope.arrival_time - waited)
        expire_retries()
        tasks.run(include_delayed=True, rounds=3)
    [ndr] = mailbox_messages(SENDER)        # the sender is in the organization: the Internal settings
    assert ndr["Subject"] == "Undeliverable: Late"
    assert delivery_status(ndr)[0]["Reporting-MTA"] == "dns;contoso.com"
    assert [part.get_content_type() for part in ndr.iter_parts()] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert not [line for line in tracking_lines() if ",Late," in line]   # no subjects in the tracking log


def test_it_sends_a_delay_dsn_then_expires_the_message_with_an_ndr(org, tasks):
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {
        "DelayNotificationTimeout": "00:00:10", "MessageExpirationTimeout": "01:00:00",
        "TransientFailureRetryInterval": "00:00:01"})
    smart_host_connector("Down", "127.0.0.38", 30038)     # nothing listens there
    envelope = submit(tasks, ["bob@fabrikam.com"], subject="Late")
    queue = DeliveryQueue.objects.get(delivery_type=DeliveryType.SMART_HOST_CONNECTOR)
    assert queue.status == QueueStatus.RETRY and queue.connection_failing
    assert "127.0.0.38" in queue.last_error and mailbox_messages(SENDER) == []

    for waited in (timedelta(seconds=11), timedelta(hours=1, seconds=1)):
        QueuedMessage.objects.update(date_received=envelope.arrival_time - waited)
        expire_retries()
        tasks.run(include_delayed=True, rounds=3)
    reports = mailbox_messages(SENDER)
    assert [r["Subject"] for r in reports] == ["Delivery delayed: Late", "Undeliverable: Late"]
    assert [block["Action"] for block in delivery_status(reports[0])[1:]] == ["delayed"]
    [_, expired] = delivery_status(reports[1])
    assert expired["Status"] == "4.4.7" and "QUEUE.Expired" in expired["Diagnostic-Code"]
    assert store_ids() == [] and not QueuedMessage.objects.exists()
    events = [line.split(",")[8] for line in tracking_lines() if f",{envelope.message_id}," in line]
    assert {"DEFER", "FAIL"} <= set(events) and events.count("DSN") == 0   # DSN lines carry the report's id
    assert sum(",DSN," in line and f",{envelope.header_message_id}," in line for line in tracking_lines()) == 2


def test_it_delivers_to_local_mailboxes_and_returns_5_1_1_for_unknown_ones(org, tasks):
    setup.ensure_mailbox("Bob", "bob@contoso.com", "Passw0rd!")
    submit(tasks, ["bob@contoso.com", "ghost@contoso.com"], subject="Lunch")
    [delivered] = mailbox_messages("bob@contoso.com")
    assert delivered["Subject"] == "Lunch" and delivered["Return-Path"] == f"<{SENDER}>"
    [ndr] = mailbox_messages(SENDER)
    [_, recipient] = delivery_status(ndr)
    assert (recipient["Final-Recipient"], recipient["Status"]) == ("rfc822;ghost@contoso.com", "5.1.1")
    assert "RESOLVER.ADR.RecipNotFound" in recipient["Diagnostic-Code"]
    assert store_ids() == []


def test_it_does_not_deliver_to_a_mailbox_twice_when_a_message_is_categorized_again(org, tasks):
    setup.ensure_mailbox("Bob", "bob@contoso.com", "Passw0rd!")
    envelope = submit(tasks, ["bob@contoso.com", "carol@fabrikam.com"], subject="Once")   # carol: Unreachable
    assert store_ids() == [envelope.message_id]
    QueuedMessage.objects.all().delete()   # as if the queue rows were lost in a crash: the store still has it
    dispatch.categorize_messages("HUB01", [envelope.message_id])
    tasks.run()
    assert [m["Subject"] for m in mailbox_messages("bob@contoso.com")] == ["Once"]
    assert sum(",DELIVER," in line for line in tracking_lines()) == 1
    assert QueuedMessage.objects.get().recipients.get().address == "carol@fabrikam.com"


def test_it_queues_every_message_once_when_two_categorizations_of_a_batch_overlap(org, tasks, monkeypatch):
    from transport.queue import state

    smart_host_connector("To Smart Host", "127.0.0.58", 30059)
    first, second = (server_store("HUB01").accept(
        b"Subject: n\r\n\r\nx\r\n", mail_from=SENDER, rcpt_tos=[recipient], received_connector="", client_ip="",
        client_hostname="", auth_user="", size=20, header_message_id="", subject="n")
        for recipient in ("bob@fabrikam.com", "carol@fabrikam.com"))
    tasks.runtime("HUB01").categorizer.categorize([first.message_id])
    # After a restart the store is handed on again while tasks from before it still come: the other
    # categorization looked for queued messages before the first one committed.
    with monkeypatch.context() as patch:
        patch.setattr(state, "queued_store_ids", lambda store_ids: set())
        tasks.runtime("HUB01").categorizer.categorize([first.message_id, second.message_id])
    with Sink("127.0.0.58", 30059) as sink:
        tasks.run()
    assert sorted(m.rcpt_tos for m in sink.received) == [["bob@fabrikam.com"], ["carol@fabrikam.com"]]
    assert store_ids() == []


def test_it_relays_internal_relay_domains_without_a_mailbox(org, tasks):
    new_object_accepted("Partners", "partners.contoso.com", "InternalRelay")
    setup.ensure_mailbox("Pat", "pat@partners.contoso.com", "Passw0rd!")
    smart_host_connector("To Smart Host", "127.0.0.39", 30039)
    with Sink("127.0.0.39", 30039) as sink:
        submit(tasks, ["pat@partners.contoso.com", "other@partners.contoso.com"])
    assert len(mailbox_messages("pat@partners.contoso.com")) == 1
    assert [m.rcpt_tos for m in sink.received] == [["other@partners.contoso.com"]]


def new_object_accepted(name, domain, domain_type):
    from exchange_console.organization.schemas import ACCEPTED_DOMAIN

    new_object(ACCEPTED_DOMAIN, {"Name": name, "DomainName": domain, "DomainType": domain_type})


def test_it_applies_max_recipient_envelope_limit(org, tasks):
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"MaxRecipientEnvelopeLimit": 2})
    submit(tasks, ["a@contoso.com", "b@contoso.com", "c@contoso.com"])
    [ndr] = mailbox_messages(SENDER)
    assert [block["Status"] for block in delivery_status(ndr)[1:]] == ["5.5.3"] * 3


def test_it_queues_recipients_without_a_connector_in_unreachable(org, tasks):
    new_object(SEND_CONNECTOR, {"Name": "Northwind only", "AddressSpaces": "northwind.com", "SmartHosts": "[127.0.0.40]",
                                "DNSRoutingEnabled": False, "Port": 30040})
    submit(tasks, ["bob@fabrikam.com"])
    queue = DeliveryQueue.objects.get()
    assert (queue.delivery_type, queue.next_hop_domain, queue.message_count) == (
        DeliveryType.UNREACHABLE, "fabrikam.com", 1)


def test_it_routes_unreachable_mail_once_a_connector_covers_its_domain(org, tasks):
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {"MessageRetryInterval": "00:00:30"})
    submit(tasks, ["bob@fabrikam.com"])
    assert DeliveryQueue.objects.get().delivery_type == DeliveryType.UNREACHABLE
    assert [countdown for _, _, _, countdown in tasks.sent] == [pytest.approx(30, abs=2)]   # looks again later
    smart_host_connector("Added later", "127.0.0.47", 30047)
    with Sink("127.0.0.47", 30047) as sink:
        tasks.run(include_delayed=True, rounds=3)
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert store_ids() == []


def test_it_does_not_starttls_when_the_connector_ignores_it(org, tasks):
    smart_host_connector("Plain", "127.0.0.48", 30048, IgnoreSTARTTLS=True)
    with Sink("127.0.0.48", 30048, tls=trustme.CA().issue_cert("relay.fabrikam.com")) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert [m.tls for m in sink.received] == [False]


def test_it_returns_an_ndr_at_once_when_the_message_is_too_big_for_every_connector(org, tasks):
    smart_host_connector("Small", "127.0.0.41", 30041, MaxMessageSize="64KB")
    submit(tasks, ["bob@fabrikam.com"], subject="x" * 70 * 1024)
    [ndr] = mailbox_messages(SENDER)
    assert delivery_status(ndr)[1]["Status"] == "5.3.4"


def test_it_fails_over_to_the_next_connector_by_cost_and_back_when_the_first_recovers(org, tasks):
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {"TransientFailureRetryInterval": "00:00:01"})
    smart_host_connector("Primary", "127.0.0.42", 30042, AddressSpaces="*;1")
    smart_host_connector("Backup", "127.0.0.43", 30043, AddressSpaces="*;10")
    with Sink("127.0.0.43", 30043) as backup:
        submit(tasks, ["first@fabrikam.com"])        # the primary has no listener
        submit(tasks, ["second@fabrikam.com"])       # routed straight to the backup while the primary fails
    assert [m.rcpt_tos for m in backup.received] == [["first@fabrikam.com"], ["second@fabrikam.com"]]
    primary = DeliveryQueue.objects.get(next_hop_connector="Primary")
    assert primary.connection_failing and primary.message_count == 0
    [hop] = shell("Get-MailRoute -Recipient third@fabrikam.com -Server HUB01")   # what the categorizer did
    assert hop.get("Connector") == "Backup" and "Primary: candidate" in hop.get("Candidates")[0]
    assert "failing to connect now" in hop.get("Candidates")[0]

    with Sink("127.0.0.42", 30042) as recovered:
        expire_retries()
        tasks.run(include_delayed=True)             # the primary's retry finds it up again
        submit(tasks, ["third@fabrikam.com"])
    assert [m.rcpt_tos for m in recovered.received] == [["third@fabrikam.com"]]
    assert not DeliveryQueue.objects.get(next_hop_connector="Primary").connection_failing


def test_a_failing_retry_defers_every_message_of_a_queue_read_in_chunks(org, tasks, monkeypatch):
    from transport.queue import state

    monkeypatch.setattr(state, "READ_CHUNK", 2)   # five messages: the retry reads them in three chunks
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {
        "DelayNotificationTimeout": "00:00:10", "TransientFailureRetryInterval": "00:00:01"})
    smart_host_connector("Down", "127.0.0.65", 30065)     # nothing listens there yet
    envelopes = [submit(tasks, [f"user{number}@fabrikam.com"], subject=f"Held {number}") for number in range(5)]
    queue = DeliveryQueue.objects.get(next_hop_connector="Down")
    assert queue.connection_failing and queue.message_count == 5
    deferred = len([line for line in tracking_lines() if ",DEFER," in line])

    QueuedMessage.objects.update(date_received=envelopes[0].arrival_time - timedelta(seconds=11))
    expire_retries()
    tasks.run(include_delayed=True, rounds=1)   # the retry fails again: each message deferred, each one late
    tasks.run()                                 # the delay DSNs go to the sender's mailbox
    assert len([line for line in tracking_lines() if ",DEFER," in line]) == deferred + 5
    assert sorted(r["Subject"] for r in mailbox_messages(SENDER)) == [f"Delivery delayed: Held {n}" for n in range(5)]

    with Sink("127.0.0.65", 30065) as recovered:
        expire_retries()
        tasks.run(include_delayed=True)
    assert sorted(m.rcpt_tos[0] for m in recovered.received) == [f"user{number}@fabrikam.com" for number in range(5)]
    assert store_ids() == [] and not QueuedMessage.objects.exists()


def test_it_reuses_a_connection_for_up_to_smtp_max_messages_per_connection(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.44", 30044, SmtpMaxMessagesPerConnection=2,
                         ProtocolLoggingLevel="Verbose")
    for number in range(5):   # queued first, then delivered in one attempt
        server_store("HUB01").accept(b"Subject: n\r\n\r\nx\r\n", mail_from=SENDER, rcpt_tos=[f"u{number}@fabrikam.com"],
                                      received_connector="", client_ip="", client_hostname="", auth_user="",
                                      size=20, header_message_id="", subject="n")
    for message_id in store_ids():
        dispatch.categorize_messages("HUB01", [message_id])
    with Sink("127.0.0.44", 30044) as sink:
        tasks.run()
    assert len(sink.received) == 5
    log = "".join(p.read_text() for p in (settings.EXCHANGE_DATA_DIR / "HUB01").rglob("SEND*.log"))
    assert "#Log-Type: SMTP Send Protocol Log" in log
    assert log.count(",+,") == 3 and log.count(",>,QUIT,") == 3    # 2 + 2 + 1 messages
    assert ",To Smart Host," in log and ",>,EHLO hub01.contoso.com," in log


def test_it_pipelines_commands_to_a_smart_host_that_offers_pipelining(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.55", 30055, ProtocolLoggingLevel="Verbose")
    content = b"Subject: Dots\r\n\r\n.leading dot\r\nmiddle\r\n..two dots\r\nno final line break"
    server_store("HUB01").accept(
        content, mail_from=SENDER, rcpt_tos=["bob@fabrikam.com", "nobody@fabrikam.com", "carol@fabrikam.com"],
        received_connector="", client_ip="", client_hostname="", auth_user="", size=len(content),
        header_message_id="<dots@contoso.com>", subject="Dots")
    dispatch.categorize_messages("HUB01", store_ids())
    with Sink("127.0.0.55", 30055, pipelining=True, replies={"nobody@fabrikam.com": "550 5.1.1 User unknown"}) as sink:
        tasks.run()
    [received] = sink.received
    assert received.rcpt_tos == ["bob@fabrikam.com", "carol@fabrikam.com"]
    assert received.content == content + b"\r\n"
    [ndr] = mailbox_messages(SENDER)
    assert [block["Final-Recipient"] for block in delivery_status(ndr)[1:]] == ["rfc822;nobody@fabrikam.com"]
    log = "".join(p.read_text() for p in (settings.EXCHANGE_DATA_DIR / "HUB01").rglob("SEND*.log"))
    assert "PIPELINING" in log
    assert [line.split(",")[-2] for line in log.splitlines() if ",>," in line][1:5] == [
        "MAIL FROM:<alice@contoso.com>", "RCPT TO:<bob@fabrikam.com>", "RCPT TO:<nobody@fabrikam.com>",
        "RCPT TO:<carol@fabrikam.com>"]
    assert store_ids() == []


def test_it_keeps_the_message_when_a_pipelining_smart_host_refuses_the_sender(org, tasks):
    smart_host_connector("To Smart Host", "127.0.0.56", 30056)
    with Sink("127.0.0.56", 30056, pipelining=True, replies={SENDER: "451 4.7.1 Try again later"}) as sink:
        submit(tasks, ["bob@fabrikam.com"], subject="Refused")
        message = QueuedMessage.objects.get()
        assert (message.status, message.last_error) == ("Retry", "451 4.7.1 Try again later")
        assert sink.received == []
        sink.handler.replies.clear()
        expire_retries()
        tasks.run(include_delayed=True)
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]] and store_ids() == []


def test_it_hands_a_connector_sourced_elsewhere_to_its_source_server(org, tasks, second_hub):
    new_object(SEND_CONNECTOR, {"Name": "Via HUB02", "AddressSpaces": "*", "SmartHosts": "[127.0.0.45]",
                                "DNSRoutingEnabled": False, "Port": 30045, "SourceTransportServers": ["HUB02"]})
    with Sink("127.0.0.45", 30045) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert tasks.queues_of("transfer_message") == ["transport.hub02"]
    assert set(tasks.queues_of("deliver_queue")) == {"transport.hub02"}
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert store_ids("HUB01") == [] and store_ids("HUB02") == []
    assert not DeliveryQueue.objects.filter(server__name="HUB01").exists()
    assert DeliveryQueue.objects.get().server.name == "HUB02"


def test_it_writes_foreign_connector_mail_to_the_drop_directory_within_its_quota(org, tasks):
    from exchange_console.connectors.schemas import FOREIGN_CONNECTOR

    new_object(FOREIGN_CONNECTOR, {"Name": "Fax Gateway", "AddressSpaces": "fax.contoso.com",
                                   "DropDirectoryQuota": "1KB"})
    submit(tasks, ["+15551234@fax.contoso.com"], subject="Fax one")
    submit(tasks, ["+15555678@fax.contoso.com"], subject="Fax two " + "x" * 330)
    folder = settings.EXCHANGE_DATA_DIR / "HUB01" / "TransportRoles" / "Drop" / "Fax Gateway"
    [drop_file] = list(folder.glob("*.eml"))
    assert drop_file.read_bytes().startswith(
        f"X-Sender: <{SENDER}>\r\nX-Receiver: <+15551234@fax.contoso.com>\r\nFrom: ".encode())
    queue = DeliveryQueue.objects.get(delivery_type=DeliveryType.NON_SMTP_GATEWAY)
    assert queue.message_count == 1 and "quota" in queue.last_error

    drop_file.unlink()                                    # the gateway picked it up
    expire_retries()
    tasks.run(include_delayed=True)
    assert len(list(folder.glob("*.eml"))) == 1 and store_ids() == []


def test_it_refuses_a_domain_secure_peer_whose_certificate_is_not_trusted_and_uses_mutual_tls_otherwise(
        fabrikam_dns, tasks):
    from exchange_console.certificates.services import import_certificate

    ca = trustme.CA()
    trust(ca, "HUB01")
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"TLSSendDomainSecureList": ["fabrikam.com"]})
    dns_connector(AddressSpaces="fabrikam.com", DomainSecureEnabled=True, Port=30032)
    mx_certificate = ca.issue_cert("fabrikam.com", "mx2.fabrikam.com")
    # The server still presents its self-signed certificate: the partner refuses it.
    with Sink("127.0.0.31", 30032, tls=mx_certificate, client_ca=ca) as mx1, \
            Sink("127.0.0.32", 30032, tls=mx_certificate, client_ca=ca) as mx2:
        submit(tasks, ["bob@fabrikam.com"])
        assert mx1.received == mx2.received == []
        assert DeliveryQueue.objects.get().status == QueueStatus.RETRY

        hub_certificate = ca.issue_cert("hub01.contoso.com", "contoso.com")
        import_certificate(TransportServer.objects.get(name="HUB01"),
                           hub_certificate.private_key_and_cert_chain_pem.bytes())
        expire_retries()
        tasks.run(include_delayed=True)
    [received] = mx1.received + mx2.received
    assert received.tls and ("DNS", "contoso.com") in received.client_certificate["subjectAltName"]


def test_it_refuses_a_domain_secure_peer_whose_certificate_names_another_domain(fabrikam_dns, tasks):
    ca = trustme.CA()
    trust(ca, "HUB01")
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"TLSSendDomainSecureList": ["fabrikam.com"]})
    dns_connector(AddressSpaces="fabrikam.com", DomainSecureEnabled=True, Port=30033)
    with Sink("127.0.0.31", 30033, tls=ca.issue_cert("mx.northwind.com")) as mx1, \
            Sink("127.0.0.32", 30033, tls=ca.issue_cert("mx.northwind.com")) as mx2:
        submit(tasks, ["bob@fabrikam.com"])
    assert mx1.received == mx2.received == []
    assert "isn't valid for fabrikam.com" in DeliveryQueue.objects.get().last_error


def test_it_expires_domain_secure_mail_with_an_ndr_instead_of_failing_over_to_a_connector_without_it(
        fabrikam_dns, tasks):
    ca = trustme.CA()
    trust(ca, "HUB01")
    set_object(TRANSPORT_CONFIG, TransportConfig.objects.get(), {"TLSSendDomainSecureList": ["fabrikam.com"]})
    set_object(TRANSPORT_SERVER, TransportServer.objects.get(name="HUB01"), {"TransientFailureRetryInterval": "00:00:01"})
    dns_connector(AddressSpaces="fabrikam.com", DomainSecureEnabled=True, Port=30057)
    smart_host_connector("Backup", "127.0.0.57", 30058)      # `*`, as cheap, without domain security
    with Sink("127.0.0.31", 30057, tls=ca.issue_cert("mx.northwind.com")) as mx1, \
            Sink("127.0.0.32", 30057, tls=ca.issue_cert("mx.northwind.com")) as mx2, \
            Sink("127.0.0.57", 30058) as backup:
        envelope = submit(tasks, ["bob@fabrikam.com"], subject="Secure")
        for _ in range(2):                                    # the retries fail the same way
            expire_retries()
            tasks.run(include_delayed=True, rounds=3)
        assert QueuedMessage.objects.get().status == "Retry"
        QueuedMessage.objects.update(date_received=envelope.arrival_time - timedelta(days=2, seconds=1))
        expire_retries()
        tasks.run(include_delayed=True, rounds=3)
    assert backup.received == mx1.received == mx2.received == []
    [ndr] = mailbox_messages(SENDER)
    [_, expired] = delivery_status(ndr)
    assert expired["Status"] == "4.4.7" and "isn't valid for fabrikam.com" in expired["Diagnostic-Code"]
    assert store_ids() == [] and not QueuedMessage.objects.exists()


def test_it_presents_the_server_certificate_to_a_smart_host_for_exchange_server_authentication(org, tasks):
    from exchange_console.certificates.services import import_certificate

    ca = trustme.CA()
    import_certificate(TransportServer.objects.get(name="HUB01"),
                       ca.issue_cert("hub01.contoso.com").private_key_and_cert_chain_pem.bytes())
    smart_host_connector("To HUB02", "127.0.0.49", 30049, SmartHostAuthMechanism="ExchangeServer")
    with Sink("127.0.0.49", 30049, tls=ca.issue_cert("hub02.contoso.com"), client_ca=ca) as hub02:
        submit(tasks, ["bob@fabrikam.com"])
    [received] = hub02.received
    assert received.tls and ("DNS", "hub01.contoso.com") in received.client_certificate["subjectAltName"]


def test_it_stores_the_smart_host_password_encrypted(org):
    connector = smart_host_connector("Authenticated", "127.0.0.46", 30046, SmartHostAuthMechanism="BasicAuth",
                                     AuthenticationCredential=("relayuser", "S3cret!"))
    stored = SendConnector.objects.get(pk=connector.pk)
    assert "S3cret!" not in stored.auth_password_encrypted
    assert stored.authentication_credential == ("relayuser", "S3cret!")


def test_a_message_routed_to_two_next_hops_stays_stored_until_both_have_it(org, tasks):
    """Delivered by one queue, the message stays in the store for the other (which can't connect yet), and
    leaves it once that one delivers too."""
    new_object(SEND_CONNECTOR, {"Name": "To Fabrikam", "AddressSpaces": "fabrikam.com", "SmartHosts": "[127.0.0.71]",
                                "DNSRoutingEnabled": False, "Port": 30071})
    new_object(SEND_CONNECTOR, {"Name": "To Tailspin", "AddressSpaces": "tailspintoys.com",
                                "SmartHosts": "[127.0.0.72]", "DNSRoutingEnabled": False, "Port": 30072})
    with Sink("127.0.0.71", 30071) as fabrikam:
        envelope = submit(tasks, ["bob@fabrikam.com", "ann@tailspintoys.com"])
    assert [m.rcpt_tos for m in fabrikam.received] == [["bob@fabrikam.com"]]
    assert store_ids() == [envelope.message_id]
    assert list(QueuedMessage.objects.values_list("queue__next_hop_connector", flat=True)) == ["To Tailspin"]
    with Sink("127.0.0.72", 30072) as tailspin:
        expire_retries()
        tasks.run(include_delayed=True)
    assert [m.rcpt_tos for m in tailspin.received] == [["ann@tailspintoys.com"]]
    assert store_ids() == [] and not QueuedMessage.objects.exists()
