"""The checks' findings in the browser, before the change is saved: a routing loop and an open relay are shown and
wait for "Save this change although it breaks mail flow"; a warning lets the wizard go on."""
import pytest
from playwright.sync_api import expect

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization import setup

pytestmark = pytest.mark.browser

CONFIRMATION = "Save this change although it breaks mail flow"


@pytest.fixture
def hub(organization):
    """HUB01 as installed, its Default connector on port 25, where send connectors reach smart hosts."""
    return setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name")


def next_page(page, title):
    page.get_by_role("button", name="Next >").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def send_connector_to_the_new_connector_page(page, name, smart_host, authentication):
    """Every page of the New Send Connector wizard: all addresses (the default row) through one smart host."""
    page.get_by_role("link", name="New Send Connector...").click()
    page.get_by_label("Name:").fill(name)
    page.get_by_label("Custom - Send e-mail to other non-Exchange servers.").check()
    next_page(page, "Address space")
    page.get_by_label("Address (row 1)", exact=True).fill("*")
    next_page(page, "Network settings")
    page.get_by_label("Route mail through the following smart hosts:").check()
    page.get_by_label("Smart host (IP address or FQDN) (row 1)", exact=True).fill(smart_host)
    next_page(page, "Configure smart host authentication settings")
    page.get_by_label(authentication).check()
    next_page(page, "Source Server")
    next_page(page, "New Connector")


def test_a_send_connector_whose_smart_host_is_the_server_itself_waits_for_the_confirmation(console):
    page = console
    send_connector_to_the_new_connector_page(page, "Loop", "hub01.contoso.com", "None")
    findings = page.locator(".findings")
    expect(findings).to_contain_text("Error: Routing loop: mail for example.invalid goes HUB01 'Loop' -> "
                                     "HUB01\\Default HUB01 -> 'Loop'")

    page.get_by_role("button", name="New").click()
    expect(page.get_by_role("alert").filter(has_text="Force: this connector breaks mail flow")).to_be_visible()
    assert not SendConnector.objects.filter(name="Loop").exists()

    page.get_by_label(CONFIRMATION).check()
    page.get_by_role("button", name="New").click()
    expect(page.get_by_text("Exchange Management Shell command completed:")).to_be_visible()
    expect(page.locator(".findings")).to_contain_text("Saved despite the error: Routing loop")
    assert SendConnector.objects.filter(name="Loop").exists()


def test_a_warning_lets_the_wizard_go_on(console):
    page = console
    send_connector_to_the_new_connector_page(page, "ISP", "relay.isp.example", "Exchange Server Authentication")
    expect(page.locator(".findings")).to_contain_text(
        "Warning: Send connector 'ISP' authenticates as an Exchange server to relay.isp.example, which isn't one of "
        "the organization's servers")
    expect(page.get_by_label(CONFIRMATION)).to_have_count(0)

    page.get_by_role("button", name="New").click()
    expect(page.get_by_text("Exchange Management Shell command completed:")).to_be_visible()
    expect(page.locator(".findings")).to_contain_text("Warning: Send connector 'ISP' authenticates as an Exchange "
                                                      "server to relay.isp.example")
    assert SendConnector.objects.get(name="ISP").smart_host_auth_mechanism == "ExchangeServer"


def test_a_new_receive_connector_made_an_open_relay_waits_for_the_confirmation(console):
    """The EMC's way to an anonymous relay: a Custom connector (the wizard keeps every remote address unless told
    otherwise), then Externally Secured with the Exchange servers group in its properties."""
    page = console
    page.get_by_role("tree").get_by_role("link", name="Hub Transport").nth(1).click()
    page.get_by_role("link", name="New Receive Connector...").click()
    page.get_by_label("Name:").fill("Relay")
    page.get_by_label("Custom - Create a Receive connector with custom settings.").check()
    next_page(page, "Local Network settings")
    page.get_by_label("Port (row 1)", exact=True).fill("2526")
    next_page(page, "Remote Network settings")
    next_page(page, "New Connector")
    expect(page.locator(".findings")).to_have_count(0)   # nobody may relay through it yet
    page.get_by_role("button", name="New").click()
    expect(page.get_by_text("Exchange Management Shell command completed:")).to_be_visible()
    page.get_by_role("link", name="Finish").click()

    page.locator("#result-list tr.selectable", has_text="Relay").dblclick()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("tab", name="Authentication").click()
    dialog.get_by_label("Externally Secured (for example, with IPsec)").check()
    dialog.get_by_role("tab", name="Permission Groups").click()
    dialog.get_by_label("Exchange servers", exact=True).check()
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator(".findings")).to_contain_text(
        "Error: Receive connector 'HUB01\\Relay' lets clients that don't authenticate relay")
    expect(dialog.locator(".findings")).to_contain_text("HUB01 would be an open relay")

    dialog.get_by_role("button", name="OK").click()
    expect(dialog.get_by_role("alert").filter(has_text="This change breaks mail flow")).to_be_visible()
    assert ReceiveConnector.objects.get(name="Relay").permission_groups == []

    dialog.get_by_label(CONFIRMATION).check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    connector = ReceiveConnector.objects.get(name="Relay")
    assert connector.permission_groups == ["ExchangeServers"]
    assert "ExternalAuthoritative" in connector.auth_mechanism
