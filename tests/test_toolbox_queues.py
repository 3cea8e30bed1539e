"""Queue Viewer and the queue cmdlets against a real transport worker whose smart host is down, so that mail
waits in Retry: suspend, resume and deliver, remove with an NDR the sender receives, remove silently, export."""
import csv
import email
import io
import json
import re
import time
from email import policy

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from transport.queue.models import DeliveryQueue, MessageStatus, QueuedMessage
from exchange_console.services import acting_as, new_object
from tests.send_peers import Sink
from tests.shell_helpers import shell
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, new_receive_connector, remove_server_data,
    unique_server_name,
)
from transport.delivery.mailbox import mailbox_folder

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, PORT, SMART_HOST_PORT = "127.0.0.61", 40025, 40125
SENDER = "kim@contoso.com"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("QV")
    server = install_receive_server(name, "qv.contoso.com")
    setup.ensure_mailbox("Kim", SENDER, "Passw0rd!")
    # Externally secured, like a relay for printers and alert systems: its clients may relay.
    new_receive_connector(server, "Relay", f"{HOST}:{PORT}", RemoteIPRanges="127.0.0.1",
                          PermissionGroups="ExchangeServers", AuthMechanism="Tls,ExternalAuthoritative")
    new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*", "SmartHosts": f"[{HOST}]", "Port": SMART_HOST_PORT,
                                "DNSRoutingEnabled": False, "SourceTransportServers": name})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def stuck(server):
    """Three messages to the Internet, waiting in Retry because the smart host doesn't answer."""
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
    try:
        for subject in ("Alpha", "Bravo", "Charlie"):
            send(subject)
        wait_until(lambda: QueuedMessage.objects.filter(queue__server=server, status=MessageStatus.RETRY).count() == 3,
                   "three messages in Retry")
        yield {message.subject: message for message in QueuedMessage.objects.filter(queue__server=server)}
    finally:
        worker.stop()


def send(subject):
    with Client(HOST, PORT) as client:
        client.sendmail(SENDER, ["partner@fabrikam.example"],
                        f"From: {SENDER}\r\nTo: partner@fabrikam.example\r\nSubject: {subject}\r\n"
                        f"Message-ID: <{subject}.{time.time_ns()}@contoso.com>\r\n\r\nQuarterly figures\r\n")


def wait_until(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def olga(committed_db):
    user, _ = get_user_model().objects.get_or_create(username="olga", defaults={"is_superuser": True})
    return user


@pytest.fixture
def console(client, olga):
    client.force_login(olga)
    return client


def kims_mail():
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, SENDER) / "new"
    return [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in sorted(folder.glob("*"))]


def test_the_shell_shows_the_retry_queue_and_its_messages(server, stuck):
    (queue,) = shell(f'Get-Queue -Server {server.name} -Filter {{Status -eq "Retry"}}')
    assert (queue.display("DeliveryType"), queue.display("MessageCount"), queue.display("NextHopDomain")) == (
        "SmartHostConnectorDelivery", "3", f"[{HOST}]")
    assert "Connection refused" in queue.display("LastError") or queue.display("LastError")
    subjects = shell(f"Get-Queue {queue.identity} | Get-Message | Sort-Object Subject | "
                     f"Select-Object -ExpandProperty Subject")
    assert subjects == ["Alpha", "Bravo", "Charlie"]
    (only,) = shell(f"Get-Message -Server {server.name} -Filter {{Subject -like 'Br*'}}")
    assert only.display("FromAddress") == SENDER and only.get("Recipients") == ["partner@fabrikam.example"]


def test_the_console_lists_queues_and_messages_and_exports_them(server, stuck, console):
    page = console.get("/toolbox/queues/", {"server": server.name}).content.decode()
    assert "SmartHostConnectorDelivery" in page and "Retry" in page
    messages = console.get("/toolbox/queues/", {"server": server.name, "tab": "messages",
                                                "filter": "Subject -eq 'Charlie'"}).content.decode()
    assert "Charlie" in messages and "Alpha" not in messages
    export = console.get("/toolbox/queues/export/", {"server": server.name, "tab": "messages", "sort": "Subject"})
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:2] == ["FromAddress", "Subject"]
    assert [row[1] for row in rows[1:]] == ["Alpha", "Bravo", "Charlie"]
    bad = console.get("/toolbox/queues/", {"tab": "messages", "filter": "Subject is Alpha"}).content.decode()
    assert "Filter: expected &#x27;Property -operator value&#x27;" in bad


def test_it_shows_a_filter_nested_too_deeply_as_a_filter_error(server, console):
    deep = "(" * 5000 + "Subject -eq 'Alpha'" + ")" * 5000
    for tab in ("queues", "messages"):
        page = console.get("/toolbox/queues/", {"server": server.name, "tab": tab, "filter": deep})
        assert page.status_code == 200
        assert "Filter: parentheses and -not are nested too deeply; the maximum is 32 levels." in page.content.decode()
    chained = console.get("/toolbox/queues/", {"tab": "messages", "filter": "Subject -eq 'x' -or " * 3000 + "Size -gt 0"})
    assert "Filter: too many comparisons; the maximum is 100." in chained.content.decode()
    export = console.get("/toolbox/queues/export/", {"tab": "messages", "filter": "-not " * 5000 + "Size -gt 0"})
    assert (export.status_code, export.content.decode()) == (
        400, "Filter: parentheses and -not are nested too deeply; the maximum is 32 levels.")


def test_a_message_page_shows_headers_recipients_and_tracking(stuck, console):
    alpha = stuck["Alpha"]
    page = console.get(f"/toolbox/queues/messages/{alpha.pk}/").content.decode()
    assert "Subject: Alpha" in page and "partner@fabrikam.example" in page
    assert "<strong>RECEIVE</strong>" in page


def test_it_exports_a_message_only_for_administrators_who_manage_queues(stuck, olga):
    from exchange_console.accounts.models import RoleGroup, RoleGroupMember
    from exchange_console.shell.errors import ShellError

    alpha = stuck["Alpha"]
    viewer = get_user_model().objects.create_user("victor")
    RoleGroupMember.objects.create(user=viewer, role_group=RoleGroup.named(RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT))
    with acting_as(viewer, "EMS"), pytest.raises(ShellError) as refused:
        shell(f"Export-Message {alpha.identity}")
    assert str(refused.value).startswith(f"Access denied: victor isn't allowed to run Export-Message on "
                                         f"'{alpha.identity}'.")
    with acting_as(olga, "EMS"):
        (exported,) = shell(f"Export-Message {alpha.identity}")
    assert b"Subject: Alpha" in exported
    assert [(entry.caller, entry.succeeded) for entry in AdminAuditEntry.objects.filter(cmdlet="Export-Message")] == [
        ("olga", True), ("victor", False)]
    viewer.delete()


def test_remove_with_ndr_returns_the_message_to_its_sender(server, stuck, olga):
    bravo = stuck["Bravo"]
    before = len(kims_mail())
    with acting_as(olga, "EMS"):
        shell(f"Remove-Message {bravo.identity} -WithNDR $true -Confirm:$false")
    wait_until(lambda: not QueuedMessage.objects.filter(pk=bravo.pk).exists(), "Bravo removed")
    wait_until(lambda: len(kims_mail()) == before + 1, "the NDR in Kim's mailbox")
    report = kims_mail()[-1]
    assert report.get_content_type() == "multipart/report" and "Bravo" in report["Subject"]
    assert "message deleted by administrator" in report.as_string()
    entry = AdminAuditEntry.objects.get(cmdlet="Remove-Message")
    assert entry.command == f"Remove-Message '{bravo.identity}' -WithNDR $true" and entry.caller == "olga"


def test_remove_without_ndr_is_silent(server, stuck):
    charlie = stuck["Charlie"]
    before = len(kims_mail())
    shell(f"Remove-Message {charlie.identity} -WithNDR $false -Confirm:$false")
    wait_until(lambda: not QueuedMessage.objects.filter(pk=charlie.pk).exists(), "Charlie removed")
    time.sleep(1)
    assert len(kims_mail()) == before


def test_suspended_mail_stays_until_resumed_then_is_delivered(server, stuck, console):
    alpha = stuck["Alpha"]
    response = console.post("/toolbox/queues/action/", {"tab": "messages", "server": server.name,
                                                        "action": "suspend", "selected": [alpha.pk]})
    assert response.status_code == 302
    assert QueuedMessage.objects.get(pk=alpha.pk).status == MessageStatus.SUSPENDED
    exported = shell(f"Export-Message {alpha.identity}")
    assert b"Subject: Alpha" in exported[0]
    queue = DeliveryQueue.objects.get(pk=alpha.queue_id)
    with Sink(HOST, SMART_HOST_PORT) as sink:
        console.post("/toolbox/queues/action/", {"tab": "queues", "action": "retry", "selected": [queue.pk]})
        time.sleep(2)
        assert sink.received == []       # suspended: the retry leaves it alone
        console.post("/toolbox/queues/action/", {"tab": "messages", "action": "resume", "selected": [alpha.pk]})
        wait_until(lambda: sink.received, "Alpha at the smart host")
    assert b"Subject: Alpha" in sink.received[0].content
    wait_until(lambda: not QueuedMessage.objects.filter(pk=alpha.pk).exists(), "Alpha leaving the queue")


def test_queue_actions_need_get_or_post_and_a_signed_in_administrator(client, console):
    from django.test import Client as DjangoClient

    assert DjangoClient().get("/toolbox/queues/").status_code == 302
    assert console.get("/toolbox/queues/action/").status_code == 405
    assert console.post("/toolbox/queues/action/", {"tab": "queues", "action": "explode"}).status_code == 400


def test_beat_samples_every_server_and_the_viewer_charts_them(server, stuck, console):
    """Runs last: by now the module received three messages and delivered Alpha and two NDRs."""
    from datetime import timedelta

    from django.utils import timezone

    from exchange_console.toolbox.models import QueueSample
    from exchange_console.toolbox.samples import record_sample
    from exchange_console.toolbox.tasks import sample_all_servers

    sample_all_servers.apply_async(queue="management")       # what beat sends each minute
    wait_until(lambda: QueueSample.objects.filter(server=server).exists(), "the worker's sample")
    now = timezone.now()
    for minutes_ago in range(-1, 5):
        record_sample(server.name, now=now - timedelta(minutes=minutes_ago))
    samples = QueueSample.objects.filter(server=server)
    assert sum(sample.received for sample in samples) == 3
    assert sum(sample.sent for sample in samples) >= 2
    assert samples.order_by("when").last().queued == 0
    page = console.get("/toolbox/queues/", {"server": server.name}).content.decode()
    chart = charted(page)
    assert chart["servers"] == [server.name] and len(chart["times"]) == samples.count()
    queued, received, sent = (metric["series"][0] for metric in chart["metrics"])
    assert sum(received) == 3 and sum(sent) >= 2 and queued[-1] == 0
    assert f"{server.name}: 0 queued" in page
    refreshed = console.get("/toolbox/queues/", {"server": server.name}, HTTP_HX_REQUEST="true",
                            HTTP_HX_TARGET="queue-statistics").content.decode()
    assert refreshed.startswith('<section class="statistics" id="queue-statistics"') and "viewer-rows" not in refreshed
    again = charted(refreshed)   # the same chart; its window ends at the moment of each request
    assert abs(again.pop("end") - chart.pop("end")) <= 2 and abs(again.pop("start") - chart.pop("start")) <= 2
    assert again == chart


def charted(page):
    """The data the Queue Viewer's charts are drawn from, as the view embeds it in the page."""
    found = re.search(r'<script id="queue-statistics-data" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))
