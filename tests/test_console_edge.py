"""The console's Edge Transport parts that a browser can't show as directly: posts the dialogs don't offer are
refused, and what an Edge's own console locks depends on its subscription."""
import pytest
from django.utils import timezone

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.edge.models import EdgeSubscription, EdgeSyncState
from exchange_console.edge.services import import_subscription
from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer
from exchange_console.services import new_object
from tests.console_data import edge_subscription_file
from tests.console_helpers import WizardDriver, dialog_data, errors, rows, text
from tests.queue_data import add_queued_messages

SITE = "Default-First-Site-Name"
SEND_CONNECTORS = "/console/organization/hub-transport/send-connectors/"


@pytest.fixture
def subscribed(hub):
    return import_subscription(edge_subscription_file(), SITE)


@pytest.fixture
def edge(db):
    return setup.install_edge_server("EDGE01", "edge01.contoso.com", SITE, smtp_port=2025)


def test_it_refuses_to_change_a_subscribed_edge_from_the_organization(admin_client, subscribed):
    server = subscribed.server
    url = f"/console/properties/transport-server/{server.pk}/"
    response = admin_client.post(url, dialog_data("transport-server", server, TransientFailureRetryCount="3"))
    assert response.status_code == 403
    assert errors(response) == [
        "EDGE01 is an Edge Transport server subscribed to the site Default-First-Site-Name. It is managed on the Edge "
        "Transport server itself, in the console or shell run there; the organization only routes mail to it and "
        "synchronizes its configuration with EdgeSync."]
    server.refresh_from_db()
    assert server.transient_failure_retry_count == 6 and server.version == 1


def test_it_lists_the_subscription_with_its_last_synchronization(admin_client, subscribed):
    EdgeSubscription.objects.filter(pk=subscribed.pk).update(status={"Configuration": {
        "Hub": "HUB01", "LastSync": "2026-12-02T23:00:00+00:00", "Result": "Success"}})
    page = text(admin_client.get("/console/organization/hub-transport/edge-subscriptions/", {"q": "success"}))
    assert "EDGE01 Default-First-Site-Name contoso.com 2026-12-02T23:00:00+00:00 Success" in page
    assert "1 object" in page


def test_an_edge_console_has_no_mailboxes_nor_edge_subscriptions_to_import(admin_client, edge):
    for url in ("/console/recipients/mailbox/", "/console/mailboxes/new/", "/console/edge-subscriptions/new/",
                "/console/organization/hub-transport/edge-subscriptions/"):
        assert admin_client.get(url).status_code == 404, url


def test_an_unsubscribed_edge_manages_its_send_connectors_itself(admin_client, edge):
    connector = new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*",
                                            "SourceTransportServers": [edge]})
    page = admin_client.get(SEND_CONNECTORS).content.decode()
    assert "New Send Connector..." in page and "managed by EdgeSync" not in page

    EdgeSyncState.objects.filter(server=edge).update(site=SITE, subscribed=timezone.now())
    page = admin_client.get(SEND_CONNECTORS).content.decode()
    assert "New Send Connector..." not in page and "These objects are managed by EdgeSync" in page
    assert "data-remove" not in page and "data-toggle" not in page
    response = admin_client.post(f"/console/properties/send-connector/{connector.pk}/",
                                 dialog_data("send-connector", connector, Name="Renamed"))
    assert response.status_code == 403
    assert errors(response)[0].startswith("The SendConnector 'To Internet' is managed by EdgeSync")
    assert SendConnector.objects.get().name == "To Internet"


def test_the_edge_server_list_shows_the_edge_not_the_hubs_edgesync_brought(admin_client, edge):
    TransportServer.objects.create(name="HUB01", fqdn="hub01.contoso.com", role=TransportServer.HUB, site=edge.site)
    page = text(admin_client.get("/console/servers/hub-transport/"))
    assert "EDGE01 Edge Transport Default-First-Site-Name edge01.contoso.com" in page and "HUB01" not in page
    assert "Receive Connectors (EDGE01)" in page and "Default internal receive connector EDGE01" in page
    assert admin_client.get("/console/servers/hub-transport/HUB01/").status_code == 404


def test_the_subscription_dialog_shows_its_settings(admin_client, subscribed):
    page = admin_client.get(f"/console/properties/edge-subscription/{subscribed.pk}/")
    assert page.status_code == 200
    assert "EDGE01 Properties" in text(page) and 'value="edge01.contoso.com"' in page.content.decode()


def test_an_edge_console_queue_viewer_shows_the_edges_queues(admin_client, edge):
    TransportServer.objects.create(name="HUB01", fqdn="hub01.contoso.com", role=TransportServer.HUB, site=edge.site)
    add_queued_messages(edge, 2, queues=1)
    page = admin_client.get("/toolbox/queues/").content.decode()
    assert '<option value="EDGE01">EDGE01</option>' in page and 'value="HUB01"' not in page
    messages = admin_client.get("/toolbox/queues/", {"tab": "messages", "server": "EDGE01"}).content.decode()
    assert messages.count('name="selected"') == 2 and "Invoice 00001" in messages


def test_an_unsubscribed_edge_creates_a_send_connector_with_itself_as_source(admin_client, edge):
    TransportServer.objects.create(name="HUB01", fqdn="hub01.contoso.com", role=TransportServer.HUB, site=edge.site)
    wizard = WizardDriver(admin_client, "console:new-send-connector-step", "new_send_connector_wizard")
    wizard.start()
    wizard.next("introduction", {"Name": "To Internet", "Usage": "Internet"}, "address-space")
    wizard.next("address-space", rows("AddressSpaces", {"type": ["SMTP"], "address": ["*"], "cost": ["1"]}),
                "network")
    wizard.next("network", {"DNSRoutingEnabled": "True"}, "source-server")
    page = wizard.client.get(wizard.url("source-server")).content.decode()
    assert 'value="EDGE01"' in page and 'value="HUB01"' not in page
    wizard.next("source-server", {"SourceTransportServers": ["EDGE01"]}, "new-connector")
    assert "Exchange Management Shell command completed:" in text(wizard.finish("new-connector"))
    assert list(SendConnector.objects.get().source_transport_servers.values_list("name", flat=True)) == ["EDGE01"]
