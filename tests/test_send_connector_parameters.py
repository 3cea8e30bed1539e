"""Send connector parameters that change mail flow (issue 15, point 5), over real loopback SMTP peers and a real
DNS server: SourceIPAddress binds the outgoing connection; ErrorPolicies turn the next hop's permanent replies
and DNS failures into retries, or its transient replies into NDRs; a BasicAuth mechanism stored without smart hosts
offers no authentication to MX hosts."""
import pytest

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import new_object, set_object
from tests.send_peers import Sink
from tests.test_send_delivery import (  # noqa: F401 (fixtures)
    SENDER, dns_connector, fabrikam_dns, delivery_status, expire_retries, mailbox_messages, org,
    smart_host_connector, store_ids, submit, tasks,
)
from transport.queue.models import QueuedMessage


def test_it_connects_from_the_source_ip_address(org, tasks):
    smart_host_connector("From .2", "127.0.0.61", 30061, SourceIPAddress="127.0.61.2")
    with Sink("127.0.0.61", 30061) as sink:
        submit(tasks, ["bob@fabrikam.com"], subject="First")
        set_object(SEND_CONNECTOR, SendConnector.objects.get(), {"SourceIPAddress": "127.0.61.3"})
        submit(tasks, ["bob@fabrikam.com"], subject="Second")
        set_object(SEND_CONNECTOR, SendConnector.objects.get(), {"SourceIPAddress": "0.0.0.0"})
        submit(tasks, ["bob@fabrikam.com"], subject="Third")
    assert [message.peer[0] for message in sink.received] == ["127.0.61.2", "127.0.61.3", "127.0.0.1"]


def test_it_retries_when_the_source_ip_address_is_not_one_of_the_servers(org, tasks):
    smart_host_connector("From elsewhere", "127.0.0.62", 30062, SourceIPAddress="192.0.2.10")
    with Sink("127.0.0.62", 30062) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    message = QueuedMessage.objects.get()
    assert sink.received == [] and message.status == "Retry"
    assert "127.0.0.62" in message.last_error and mailbox_messages(SENDER) == []


def test_downgrade_custom_failures_retries_a_permanent_refusal_but_not_an_unknown_user(org, tasks):
    smart_host_connector("Partner", "127.0.0.63", 30063, ErrorPolicies="DowngradeCustomFailures")
    replies = {"bob@fabrikam.com": "554 5.7.1 Service unavailable", "nobody@fabrikam.com": "550 5.1.1 User unknown"}
    with Sink("127.0.0.63", 30063, replies=replies) as sink:
        submit(tasks, ["bob@fabrikam.com", "nobody@fabrikam.com"], subject="Partner mail")
        message = QueuedMessage.objects.get()
        assert (message.status, message.last_error) == ("Retry", "454 4.7.1 Service unavailable")
        [ndr] = mailbox_messages(SENDER)
        assert [block["Final-Recipient"] for block in delivery_status(ndr)[1:]] == ["rfc822;nobody@fabrikam.com"]
        sink.handler.replies.clear()
        expire_retries()
        tasks.run(include_delayed=True)
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert store_ids() == []


def test_upgrade_custom_failures_returns_a_transient_refusal_at_once(org, tasks):
    smart_host_connector("Strict", "127.0.0.64", 30064, ErrorPolicies="UpgradeCustomFailures")
    with Sink("127.0.0.64", 30064, replies={"bob@fabrikam.com": "451 4.3.0 Try again later"}):
        submit(tasks, ["bob@fabrikam.com"], subject="No retries")
    [ndr] = mailbox_messages(SENDER)
    [recipient] = delivery_status(ndr)[1:]
    assert (recipient["Status"], recipient["Diagnostic-Code"]) == ("5.3.0", "smtp;551 5.3.0 Try again later")
    assert not QueuedMessage.objects.exists() and store_ids() == []


def test_default_error_policies_retry_a_transient_refusal(org, tasks):
    smart_host_connector("Default", "127.0.0.65", 30065)
    with Sink("127.0.0.65", 30065, replies={"bob@fabrikam.com": "451 4.3.0 Try again later"}):
        submit(tasks, ["bob@fabrikam.com"])
    assert QueuedMessage.objects.get().status == "Retry" and mailbox_messages(SENDER) == []


@pytest.mark.parametrize("policies, ndr", [("Default", True), ("DowngradeDnsFailures", False)])
def test_downgrade_dns_failures_retries_a_domain_dns_says_does_not_exist(fabrikam_dns, tasks, policies, ndr):
    dns_connector(ErrorPolicies=policies)
    submit(tasks, ["bob@nowhere.example"], subject="No such domain")
    reports = mailbox_messages(SENDER)
    if ndr:
        assert [delivery_status(report)[1]["Status"] for report in reports] == ["5.4.4"]
        assert not QueuedMessage.objects.exists()
    else:
        assert reports == []
        message = QueuedMessage.objects.get()
        assert message.status == "Retry" and "DowngradeDnsFailures" in message.last_error


def test_dns_routing_offers_no_smart_host_authentication_to_mx_hosts(fabrikam_dns, tasks):
    """Microsoft's example: BasicAuth stored on a connector without smart hosts; MX hosts get the mail without it."""
    dns_connector(SmartHostAuthMechanism="BasicAuth", AuthenticationCredential=("contoso\\relay", "S3cret!"))
    with Sink("127.0.0.31", 30031) as mx1:
        submit(tasks, ["bob@fabrikam.com"])
    assert [(m.rcpt_tos, m.auth_user) for m in mx1.received] == [(["bob@fabrikam.com"], "")]


@pytest.mark.parametrize("relay_dsn_required", [True, False])
def test_a_foreign_connector_sends_a_relayed_dsn_to_whoever_asked_for_success(org, tasks, relay_dsn_required):
    from exchange_console.connectors.schemas import FOREIGN_CONNECTOR
    from tests.transport_helpers import server_store
    from transport import dispatch

    new_object(FOREIGN_CONNECTOR, {"Name": "Fax Gateway", "AddressSpaces": "fax.contoso.com",
                                   "RelayDsnRequired": relay_dsn_required})
    content = (f"From: {SENDER}\r\nSubject: Fax\r\nMessage-ID: <fax@contoso.com>\r\n\r\nBody\r\n").encode()
    envelope = server_store("HUB01").accept(
        content, mail_from=SENDER, rcpt_tos=("+1555@fax.contoso.com", "+1666@fax.contoso.com"),
        received_connector="HUB01\\Default HUB01", client_ip="127.0.0.1", client_hostname="client.contoso.com",
        auth_user="", size=len(content), header_message_id="<fax@contoso.com>", subject="Fax",
        rcpt_options=(("NOTIFY=SUCCESS,FAILURE",), ("NOTIFY=FAILURE",)))
    dispatch.categorize_messages("HUB01", [envelope.message_id])
    tasks.run()
    reports = mailbox_messages(SENDER)
    if not relay_dsn_required:
        assert reports == []
        return
    [report] = reports
    assert report["Subject"] == "Relayed: Fax"
    assert "no delivery notification was sent by the destination" in report.get_body(("plain",)).get_content()
    [recipient] = delivery_status(report)[1:]
    assert (recipient["Final-Recipient"], recipient["Action"], recipient["Status"]) == (
        "rfc822;+1555@fax.contoso.com", "relayed", "2.0.0")
