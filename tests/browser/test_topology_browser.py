"""Toolbox > Mail Flow Topology in Chromium: the drawing follows a transport worker as it starts (its health and
its listener), a connector or a listener clicked opens its properties dialog over the drawing, and a queue
clicked opens the Queue Viewer on that queue."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import new_object
from tests.test_toolbox_topology import queue
from tests.transport_helpers import (
    TransportWorker, install_receive_server, loopback_host, new_receive_connector, remove_server_data,
    unique_server_name,
)
from transport.queue.models import DeliveryQueue, QueueStatus

pytestmark = [pytest.mark.browser, pytest.mark.smtp]

HOST, PORT = loopback_host(63), 40226


@pytest.fixture
def mail_flow(hub):
    """A server of its own with a Relay listener and an ISP connector; HUB01 (no worker) with a Partner
    connector whose queue waits in Retry."""
    name = unique_server_name("TP")
    server = install_receive_server(name, "tp.contoso.com")
    new_receive_connector(server, "Relay", f"{HOST}:{PORT}", RemoteIPRanges="127.0.0.1",
                          PermissionGroups="ExchangeServers", AuthMechanism="Tls,ExternalAuthoritative")
    new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*;5", "SmartHosts": "[192.0.2.10]",
                                "DNSRoutingEnabled": False, "SourceTransportServers": name})
    new_object(SEND_CONNECTOR, {"Name": "Partner", "AddressSpaces": "fabrikam.com;1",
                                "SourceTransportServers": "HUB01"})
    waiting = queue(hub, "Partner", "fabrikam.com", 2, QueueStatus.RETRY, delivery_type="DnsConnectorDelivery")
    DeliveryQueue.objects.filter(pk=waiting.pk).update(next_retry_time=timezone.now() + timedelta(hours=1))
    try:
        yield server, waiting
    finally:
        remove_server_data(name)


def test_the_topology_follows_a_worker_and_opens_properties_and_queues(console, mail_flow):
    server, waiting = mail_flow
    page = console
    page.goto("/toolbox/topology/")
    drawing = page.get_by_role("figure", name="Mail flow topology")
    node = drawing.locator("g.server", has_text=f"{server.name} Hub Transport")
    expect(node).to_contain_text("Transport worker: The transport worker is not running")
    expect(node).to_contain_text(f"{HOST}:{PORT} Not running")

    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
    try:
        expect(node).to_contain_text("Transport worker: Healthy")   # at the next refresh, without a reload
        expect(node).to_contain_text(f"{HOST}:{PORT} Listening")
    finally:
        worker.stop()

    drawing.locator("g.connector", has_text="Send connector: ISP").click()
    dialog = page.get_by_role("dialog", name="ISP Properties")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(r"/toolbox/topology/$"))   # over the drawing, not instead of it
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    node.locator("a", has_text="Relay").click()
    expect(page.get_by_role("dialog", name=f"{server.name}\\Relay Properties")).to_be_visible()
    page.get_by_role("dialog").get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    node_of_queue = drawing.locator("g.queue", has_text=waiting.identity)
    expect(node_of_queue).to_contain_text("Retry, 2 messages")
    node_of_queue.click()
    expect(page).to_have_url(re.compile(r"/toolbox/queues/\?tab=queues&server=HUB01&filter="))
    queues = page.get_by_role("table", name="Queues")
    expect(queues).to_contain_text(waiting.identity)
    expect(queues).to_contain_text("DnsConnectorDelivery")
    expect(queues.get_by_role("row")).to_have_count(2)   # the header and this queue
