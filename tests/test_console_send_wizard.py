"""The New Send Connector wizard: each page checked when leaving it, nothing created before New."""
import re

import pytest

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import new_object
from tests.console_helpers import WizardDriver, errors, rows, text

SPACE = {"AddressSpaces-type": ["SMTP"], "AddressSpaces-cost": ["1"]}


@pytest.fixture
def wizard(admin_client, hub):
    driver = WizardDriver(admin_client, "console:new-send-connector-step", "new_send_connector_wizard")
    driver.start()
    return driver


def through_address_space(wizard, name="To Internet", spaces=("*",), costs=("1",)):
    wizard.next("introduction", {"Name": name, "Usage": "Custom"}, "address-space")
    wizard.next("address-space", rows("AddressSpaces", {
        "type": ["SMTP"] * len(spaces), "address": list(spaces), "cost": list(costs)}), "network")


def test_it_starts_at_the_introduction_with_the_four_uses(wizard):
    page = wizard.client.get(wizard.url("introduction"))
    assert "Select the intended use for this connector:" in text(page)
    for use in ("Custom", "Internal", "Internet", "Partner"):
        assert f'value="{use}"' in page.content.decode()


def test_it_refuses_an_empty_name(wizard):
    page = wizard.post("introduction", {"Name": "", "Usage": "Custom"})
    assert page.status_code == 200
    assert errors(page) == ["Name: a value is required."]


def test_it_refuses_a_name_already_in_use(wizard, hub):
    new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*", "DNSRoutingEnabled": True})
    page = wizard.post("introduction", {"Name": "to internet", "Usage": "Custom"})
    assert errors(page) == ["Name: an object with the name 'to internet' already exists."]


def test_it_refuses_a_bad_domain_on_the_address_space_page(wizard):
    wizard.next("introduction", {"Name": "Contoso", "Usage": "Custom"}, "address-space")
    page = wizard.post("address-space", rows("AddressSpaces", {**SPACE, "address": ["contoso..com"]}))
    assert page.status_code == 200
    assert errors(page) == ["AddressSpaces: 'SMTP:contoso..com;1' is not a valid SMTP address space; "
                            "use a domain such as contoso.com, *.contoso.com or *"]
    assert 'value="contoso..com"' in page.content.decode()  # the input is kept


@pytest.mark.parametrize("cost", ["0", "101"])
def test_it_refuses_a_cost_outside_1_to_100(wizard, cost):
    wizard.next("introduction", {"Name": "Contoso", "Usage": "Custom"}, "address-space")
    page = wizard.post("address-space", rows("AddressSpaces", {"type": ["SMTP"], "address": ["contoso.com"],
                                                              "cost": [cost]}))
    assert errors(page) == [f"AddressSpaces: 'SMTP:contoso.com;{cost}': the cost must be between 1 and 100"]


def test_it_requires_an_address_space(wizard):
    wizard.next("introduction", {"Name": "Contoso", "Usage": "Custom"}, "address-space")
    page = wizard.post("address-space", {})
    assert errors(page) == ["AddressSpaces: at least one address space is required."]


def test_it_adds_and_removes_address_space_rows_without_leaving_the_page(wizard):
    wizard.next("introduction", {"Name": "Contoso", "Usage": "Custom"}, "address-space")
    spaces = rows("AddressSpaces", {"type": ["SMTP", "SMTP"], "address": ["a.com", "b.com"], "cost": ["1", "2"]})
    added = wizard.post("address-space", spaces, **{"rows-add": "address-space-AddressSpaces"})
    assert added.status_code == 200 and errors(added) == []
    assert added.content.decode().count('name="address-space-AddressSpaces-address"') == 3  # two rows and a blank
    removed = wizard.post("address-space", spaces, **{"rows-remove": "address-space-AddressSpaces:0"})
    html = removed.content.decode()
    assert 'value="b.com"' in html and 'value="a.com"' not in html


def test_it_refuses_smart_hosts_with_dns_routing(wizard):
    through_address_space(wizard)
    page = wizard.post("network", {"DNSRoutingEnabled": "True", **rows("SmartHosts", {"value": ["mail.fabrikam.com"]})})
    assert errors(page) == ["DNSRoutingEnabled: must be $false when SmartHosts is specified."]


def test_it_requires_smart_hosts_when_routing_through_them(wizard):
    through_address_space(wizard)
    page = wizard.post("network", {"DNSRoutingEnabled": "False"})
    assert errors(page) == ["SmartHosts: required when DNSRoutingEnabled is $false."]


def test_it_refuses_a_bad_smart_host(wizard):
    through_address_space(wizard)
    page = wizard.post("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["bad host"]})})
    assert errors(page) == ["SmartHosts: 'bad host' is not a host name (FQDN) or an IP address"]


def test_it_skips_smart_host_authentication_with_dns_routing(wizard):
    through_address_space(wizard)
    wizard.next("network", {"DNSRoutingEnabled": "True"}, "source-server")


def test_it_asks_for_a_user_name_with_basic_authentication(wizard):
    through_address_space(wizard)
    wizard.next("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["192.168.1.100"]})},
                "smart-host-authentication")
    page = wizard.post("smart-host-authentication", {"SmartHostAuthMechanism": "BasicAuthRequireTLS"})
    assert errors(page) == ["AuthenticationCredential: required when SmartHostAuthMechanism is 'BasicAuthRequireTLS'."]
    page = wizard.post("smart-host-authentication", {"SmartHostAuthMechanism": "BasicAuth",
                                                     "AuthenticationCredential": "relay"})
    assert errors(page) == ["AuthenticationCredential: a credential needs a user name and a password"]


def test_it_requires_a_source_server(wizard):
    through_address_space(wizard)
    wizard.next("network", {"DNSRoutingEnabled": "True"}, "source-server")
    page = wizard.post("source-server", {})
    assert errors(page) == ["SourceTransportServers: at least one source server is required."]


def test_it_creates_the_connector_only_at_new_and_shows_the_command(wizard, second_hub):
    through_address_space(wizard, spaces=("*",), costs=("1",))
    wizard.next("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["192.168.1.100"]})},
                "smart-host-authentication")
    wizard.next("smart-host-authentication", {"SmartHostAuthMechanism": "None"}, "source-server")
    wizard.next("source-server", {"SourceTransportServers": ["HUB01"]}, "new-connector")
    summary = wizard.client.get(wizard.url("new-connector"))
    assert "SMTP:*;1" in text(summary) and "[192.168.1.100]" in text(summary)
    assert not SendConnector.objects.exists()

    completed = wizard.finish("new-connector")

    connector = SendConnector.objects.get(name="To Internet")
    assert connector.address_spaces == ["SMTP:*;1"] and connector.smart_hosts == ["[192.168.1.100]"]
    assert not connector.dns_routing_enabled
    assert [server.name for server in connector.source_transport_servers.all()] == ["HUB01"]
    page = text(completed)
    assert ("Exchange Management Shell command completed: New-SendConnector -Name 'To Internet' -Usage 'Custom' "
            "-AddressSpaces 'SMTP:*;1' -IsScopedConnector $false -DNSRoutingEnabled $false "
            "-SmartHosts '[192.168.1.100]' -SmartHostAuthMechanism 'None' -UseExternalDNSServersEnabled $false "
            "-SourceTransportServers 'HUB01'") in page
    assert "Elapsed Time: 00:00:0" in page
    assert wizard.client.get(completed.request["PATH_INFO"]).status_code == 200  # survives a reload


def test_it_creates_nothing_when_new_is_refused(wizard):
    through_address_space(wizard, name="Outbound")
    wizard.next("network", {"DNSRoutingEnabled": "True"}, "source-server")
    wizard.next("source-server", {"SourceTransportServers": ["HUB01"]}, "new-connector")
    # Another administrator takes the name between the pages and New: every page is revalidated...
    new_object(SEND_CONNECTOR, {"Name": "Outbound", "AddressSpaces": "contoso.com", "DNSRoutingEnabled": True})
    response = wizard.post("new-connector", {})
    done = wizard.client.get(response.url)
    assert done.url == wizard.url("introduction")  # ...and the first page that no longer holds is shown again
    assert SendConnector.objects.count() == 1


def test_it_shows_the_attempted_command_when_new_is_refused(wizard):
    # Partner implies DomainSecureEnabled, which the service refuses with smart hosts at New.
    wizard.next("introduction", {"Name": "Partners", "Usage": "Partner"}, "address-space")
    wizard.next("address-space", rows("AddressSpaces", {**SPACE, "address": ["*"]}), "network")
    wizard.next("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["192.168.1.100"]})},
                "smart-host-authentication")
    wizard.next("smart-host-authentication", {"SmartHostAuthMechanism": "None"}, "source-server")
    wizard.next("source-server", {"SourceTransportServers": ["HUB01"]}, "new-connector")
    page = text(wizard.finish("new-connector"))
    assert ("Exchange Management Shell command attempted: New-SendConnector -Name 'Partners' -Usage 'Partner' "
            "-AddressSpaces 'SMTP:*;1'") in page
    assert "Error: DomainSecureEnabled: requires DNSRoutingEnabled $true." in page
    assert "< Back" in page and "Elapsed Time: 00:00:0" in page
    assert not SendConnector.objects.exists()
    back = wizard.client.get(wizard.url("new-connector"))  # the pages are kept for "< Back"
    assert "Partners" in text(back)


def test_it_goes_back_with_the_pages_kept(wizard):
    through_address_space(wizard, name="Kept")
    back = wizard.post("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["relay.kept.com"]})},
                       wizard_goto_step="address-space")
    assert back.url == wizard.url("address-space")
    page = wizard.client.get(back.url)
    assert 'value="*"' in page.content.decode()
    wizard.next("address-space", rows("AddressSpaces", {**SPACE, "address": ["*"]}), "network")
    page = wizard.client.get(wizard.url("network")).content.decode()
    assert 'value="relay.kept.com"' in page  # what was typed before "< Back" is still there


def test_it_requires_login(client, hub):
    response = client.get("/console/send-connectors/new/introduction/")
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_internal_usage_offers_exchange_server_authentication_to_smart_hosts(wizard):
    wizard.next("introduction", {"Name": "To Edge", "Usage": "Internal"}, "address-space")
    wizard.next("address-space", rows("AddressSpaces", {**SPACE, "address": ["*"]}), "network")
    wizard.next("network", {"DNSRoutingEnabled": "False", **rows("SmartHosts", {"value": ["edge01.contoso.com"]})},
                "smart-host-authentication")
    page = wizard.client.get(wizard.url("smart-host-authentication")).content.decode()
    checked = re.findall(r'<input type="radio"[^>]* value="(\w+)"[^>]* checked>', page)
    assert checked == ["ExchangeServer"]
