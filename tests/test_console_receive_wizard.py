"""The New Receive Connector wizard: pages follow the usage presets; bindings checked against other connectors."""
import re

import pytest

from exchange_console.connectors.models import ReceiveConnector
from tests.console_helpers import WizardDriver, errors, rows, text

CONFLICT = ('The values that you specified for the Bindings and RemoteIPRanges parameters conflict with the '
            'settings on Receive connector "HUB01\\Default HUB01".')


@pytest.fixture
def wizard(admin_client, hub):
    driver = WizardDriver(admin_client, "console:new-receive-connector-step",
                          f"new_receive_connector_wizard_{hub.pk}", server="HUB01")
    driver.start()
    return driver


def binding(address, port):
    return rows("Bindings", {"address": [address], "port": [port]})


def test_it_refuses_a_name_used_on_the_server(wizard):
    page = wizard.post("introduction", {"Name": "Default HUB01", "Usage": "Custom"})
    assert errors(page) == ["Name: an object with the name 'Default HUB01' already exists."]


@pytest.mark.parametrize("usage, pages", [
    ("Custom", ["local-network", "remote-network"]),
    ("Internet", ["local-network"]),
    ("Partner", ["local-network", "remote-network"]),
    ("Internal", ["remote-network"]),
    ("Client", ["remote-network"]),
])
def test_it_shows_only_the_pages_the_usage_leaves_to_the_administrator(wizard, usage, pages):
    wizard.next("introduction", {"Name": "New", "Usage": usage}, pages[0])
    listed = text(wizard.client.get(wizard.url(pages[0])))
    assert ("Local Network settings" in listed) == ("local-network" in pages)
    assert ("Remote Network settings" in listed) == ("remote-network" in pages)


def test_it_refuses_a_bad_binding(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    page = wizard.post("local-network", binding("10.0.0.300", "25"))
    assert errors(page) == ["Bindings: '10.0.0.300:25' is not a binding; use IP:port such as 0.0.0.0:25 or [::]:25"]
    page = wizard.post("local-network", binding("", "70000"))
    assert errors(page) == ["Bindings: '0.0.0.0:70000': the port must be a number from 1 to 65535"]


def test_the_local_network_page_starts_with_all_addresses_on_port_25_and_takes_it(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    page = wizard.client.get(wizard.url("local-network")).content.decode()
    assert re.search(r'name="local-network-Bindings-address"[^>]*value="\(All available IPv4\)"', page)
    assert re.search(r'name="local-network-Bindings-port"[^>]*value="25"', page)
    wizard.next("local-network", binding("(All available IPv4)", "25"), "remote-network")


def test_a_binding_row_without_a_port_names_the_missing_port(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    page = wizard.post("local-network", binding("10.0.0.5", ""))
    assert errors(page) == ["Bindings: '10.0.0.5' has no port; give one, such as 25."]


def test_it_refuses_a_bad_helo_fqdn(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    page = wizard.post("local-network", {**binding("", "2526"), "Fqdn": "bad_name!"})
    assert errors(page) == ["Fqdn: 'bad_name!' is not a valid fully qualified domain name"]


def test_it_catches_a_binding_conflict_on_the_remote_network_page(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    wizard.next("local-network", binding("", "2025"), "remote-network")  # the Default connector's binding
    page = wizard.post("remote-network", rows("RemoteIPRanges", {"value": ["0.0.0.0-255.255.255.255"]}))
    assert errors(page) == [CONFLICT]
    # A range the Default connector's range fully contains may share the binding: the more specific one wins.
    wizard.next("remote-network", rows("RemoteIPRanges", {"value": ["192.168.1.0/24"]}), "new-connector")


def test_it_catches_a_binding_conflict_on_the_local_page_when_the_usage_sets_the_ranges(wizard):
    wizard.next("introduction", {"Name": "From Internet", "Usage": "Internet"}, "local-network")
    page = wizard.post("local-network", binding("", "2025"))
    assert errors(page) == [CONFLICT]


def test_it_refuses_a_bad_remote_range(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    wizard.next("local-network", binding("127.0.0.1", "2526"), "remote-network")
    page = wizard.post("remote-network", rows("RemoteIPRanges", {"value": ["10.0.0.9-10.0.0.1"]}))
    assert errors(page) == ["RemoteIPRanges: '10.0.0.9-10.0.0.1': the first address of a range must not be higher "
                            "than the last"]


def test_it_creates_a_custom_connector_with_a_specific_binding_and_two_ranges(wizard):
    wizard.next("introduction", {"Name": "Relay", "Usage": "Custom"}, "local-network")
    wizard.next("local-network", {**binding("127.0.0.1", "2526"), "Fqdn": "relay.contoso.com"}, "remote-network")
    wizard.next("remote-network", rows("RemoteIPRanges", {"value": ["192.168.1.0/24", "10.0.0.5"]}),
                "new-connector")
    assert not ReceiveConnector.objects.filter(name="Relay").exists()
    page = text(wizard.finish("new-connector"))
    connector = ReceiveConnector.objects.get(name="Relay")
    assert connector.bindings == ["127.0.0.1:2526"]
    assert connector.remote_ip_ranges == ["192.168.1.0/24", "10.0.0.5"]
    assert connector.permission_groups == [] and connector.auth_mechanism == ["Tls"]
    assert ("Exchange Management Shell command completed: New-ReceiveConnector -Name 'Relay' -Server 'HUB01' "
            "-Usage 'Custom' -Bindings '127.0.0.1:2526' -RemoteIPRanges '192.168.1.0/24','10.0.0.5' "
            "-Fqdn 'relay.contoso.com'") in page


def test_it_creates_a_client_connector_with_the_usage_presets(wizard):
    wizard.next("introduction", {"Name": "Clients", "Usage": "Client"}, "remote-network")
    wizard.next("remote-network", rows("RemoteIPRanges", {"value": ["10.1.0.0/16"]}), "new-connector")
    page = text(wizard.finish("new-connector"))
    connector = ReceiveConnector.objects.get(name="Clients")
    assert connector.bindings == ["0.0.0.0:587"] and connector.permission_groups == ["ExchangeUsers"]
    assert "New-ReceiveConnector -Name 'Clients' -Server 'HUB01' -Usage 'Client' -RemoteIPRanges '10.1.0.0/16'" in page


def test_it_is_not_found_for_an_unknown_server(admin_client, hub):
    assert admin_client.get("/console/servers/NOPE/receive-connectors/new/introduction/").status_code == 404


def test_it_requires_login(client, hub):
    response = client.get("/console/servers/HUB01/receive-connectors/new/introduction/")
    assert response.status_code == 302 and response.url.startswith("/login/")


# --- on an Edge Transport server ---------------------------------------------------------------------------

@pytest.fixture
def edge_wizard(admin_client, organization):
    from exchange_console.organization import setup

    edge = setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")
    driver = WizardDriver(admin_client, "console:new-receive-connector-step",
                          f"new_receive_connector_wizard_{edge.pk}", server="EDGE01")
    driver.start()
    return driver


def test_it_offers_no_client_usage_on_an_edge(edge_wizard):
    page = text(edge_wizard.client.get(edge_wizard.url("introduction")))
    assert "Internet - Receive e-mail from the Internet." in page
    assert "Partner - Receive e-mail from partner domains" in page
    assert "Client - " not in page
    refused = edge_wizard.post("introduction", {"Name": "Clients", "Usage": "Client"})
    assert errors(refused) == ["Select a valid choice. Client is not one of the available choices."]


def test_it_creates_an_internet_connector_on_an_edge_with_the_edge_defaults(edge_wizard):
    edge_wizard.next("introduction", {"Name": "From Internet", "Usage": "Internet"}, "local-network")
    edge_wizard.next("local-network", binding("127.0.0.1", "2526"), "new-connector")
    page = text(edge_wizard.finish("new-connector"))
    connector = ReceiveConnector.objects.get(name="From Internet")
    assert connector.permission_groups == ["AnonymousUsers"]
    assert connector.message_rate_limit == 600
    assert (str(connector.connection_timeout), str(connector.connection_inactivity_timeout)) == ("0:05:00", "0:01:00")
    assert ("Exchange Management Shell command completed: New-ReceiveConnector -Name 'From Internet' "
            "-Server 'EDGE01' -Usage 'Internet' -Bindings '127.0.0.1:2526'") in page
