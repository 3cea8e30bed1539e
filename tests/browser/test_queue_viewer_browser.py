"""Toolbox > Queue Viewer in Chromium: mail waits in Retry behind a stopped smart host; the administrator
suspends, removes with an NDR, exports, resumes and retries, and sees what each did."""
import time

import pytest
from playwright.sync_api import expect

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from transport.queue.models import MessageStatus, QueuedMessage
from exchange_console.services import new_object
from tests.send_peers import Sink
from tests.test_toolbox_queues import kims_mail, wait_until
from tests.transport_helpers import (
    Client, TransportWorker, install_receive_server, new_receive_connector, remove_server_data, unique_server_name,
)

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

HOST, PORT, SMART_HOST_PORT = "127.0.0.62", 40225, 40325
SENDER = "kim@contoso.com"


@pytest.fixture
def stuck_server(hub):
    name = unique_server_name("QB")
    server = install_receive_server(name, "qb.contoso.com")
    setup.ensure_mailbox("Kim", SENDER, "Passw0rd!")
    new_receive_connector(server, "Relay", f"{HOST}:{PORT}", RemoteIPRanges="127.0.0.1",
                          PermissionGroups="ExchangeServers", AuthMechanism="Tls,ExternalAuthoritative")
    new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*", "SmartHosts": f"[{HOST}]",
                                "Port": SMART_HOST_PORT, "DNSRoutingEnabled": False, "SourceTransportServers": name})
    worker = TransportWorker(name).start(wait_for=[f"{HOST}:{PORT}"])
    try:
        for subject in ("Alpha", "Bravo"):
            with Client(HOST, PORT) as client:
                client.sendmail(SENDER, ["partner@fabrikam.example"],
                                f"From: {SENDER}\r\nSubject: {subject}\r\nMessage-ID: <{subject}.{time.time_ns()}"
                                f"@contoso.com>\r\n\r\nFigures\r\n")
        wait_until(lambda: QueuedMessage.objects.filter(queue__server=server, status=MessageStatus.RETRY).count() == 2,
                   "two messages in Retry")
        yield server
    finally:
        worker.stop()
        remove_server_data(name)


def select(page, subject):
    page.get_by_role("row").filter(has_text=subject).get_by_role("checkbox").check()


def test_every_queue_viewer_action_from_the_browser(console, stuck_server):
    page = console
    page.goto(f"/toolbox/queues/?server={stuck_server.name}")
    expect(page.get_by_role("table", name="Queues")).to_contain_text("SmartHostConnectorDelivery")
    expect(page.get_by_role("table", name="Queues")).to_contain_text("Retry")
    page.get_by_role("tab", name="Messages").click()
    messages = page.get_by_role("table", name="Messages")
    expect(messages).to_contain_text("Alpha")
    expect(messages).to_contain_text("Bravo")

    select(page, "Alpha")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("row").filter(has_text="Alpha")).to_contain_text("Suspended")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export List...").click()
    exported = download.value.path().read_text()
    assert "Alpha" in exported and "Bravo" in exported and "Suspended" in exported

    before = len(kims_mail())
    select(page, "Bravo")
    page.get_by_role("button", name="Remove (with NDR)").click()
    wait_until(lambda: len(kims_mail()) == before + 1, "the NDR for Bravo in Kim's mailbox")
    assert "Bravo" in kims_mail()[-1]["Subject"]
    page.reload()
    expect(page.get_by_role("table", name="Messages")).not_to_contain_text("Bravo")

    with Sink(HOST, SMART_HOST_PORT) as sink:
        select(page, "Alpha")
        page.get_by_role("button", name="Resume").click()
        page.get_by_role("tab", name="Queues").click()
        page.get_by_role("row").filter(has_text="SmartHostConnectorDelivery").get_by_role("checkbox").check()
        page.get_by_role("button", name="Retry Queue").click()
        wait_until(lambda: sink.received, "Alpha at the smart host")
    assert b"Subject: Alpha" in sink.received[0].content
    page.get_by_role("tab", name="Messages").click()
    expect(page.get_by_role("table", name="Messages")).to_contain_text("There are no items to show in this view.")
