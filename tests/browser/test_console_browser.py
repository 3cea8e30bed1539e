"""An administrator creates, edits and removes connectors in the console, in Chromium."""
import re

import pytest
from playwright.sync_api import expect

from exchange_console.connectors.models import ReceiveConnector, SendConnector

pytestmark = pytest.mark.browser

SEND_COMMAND = (
    "New-SendConnector -Name 'To Fabrikam' -Usage 'Custom' -AddressSpaces 'SMTP:*.fabrikam.com;10','SMTP:tailspintoys.com;20' "
    "-IsScopedConnector $true -DNSRoutingEnabled $false -SmartHosts '[192.168.1.100]','smtp.fabrikam.com' "
    "-SmartHostAuthMechanism 'BasicAuthRequireTLS' -UseExternalDNSServersEnabled $false "
    "-AuthenticationCredential (New-Object System.Management.Automation.PSCredential('relay', "
    "(ConvertTo-SecureString '********' -AsPlainText -Force))) -SourceTransportServers 'HUB01'"
)
RECEIVE_COMMAND = (
    "New-ReceiveConnector -Name 'Partner Relay' -Server 'HUB01' -Usage 'Custom' -Bindings '127.0.0.1:2526' "
    "-RemoteIPRanges '192.168.10.0/24','10.0.0.5' -Fqdn 'relay.contoso.com'"
)


def next_page(page, title):
    page.get_by_role("button", name="Next >").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def row_input(page, column, row):
    return page.get_by_label(f"{column} (row {row})", exact=True)


def completed_command(page):
    expect(page.get_by_text("Exchange Management Shell command completed:")).to_be_visible()
    return page.locator("pre.command").inner_text().strip()


def test_a_send_connector_through_every_wizard_page_then_edited_and_removed(console, second_hub):
    page = console
    page.get_by_role("link", name="New Send Connector...").click()

    expect(page.get_by_role("heading", name="Introduction")).to_be_visible()
    page.get_by_label("Name:").fill("To Fabrikam")
    page.get_by_label("Custom - Send e-mail to other non-Exchange servers.").check()
    next_page(page, "Address space")

    row_input(page, "Address", 1).fill("fabrikam.com")
    row_input(page, "Include all subdomains", 1).check()
    row_input(page, "Cost", 1).fill("10")
    page.get_by_role("button", name="Add").click()
    row_input(page, "Address", 2).fill("tailspintoys.com")
    row_input(page, "Cost", 2).fill("20")
    page.get_by_label("Scoped send connector").check()
    next_page(page, "Network settings")

    page.get_by_label("Route mail through the following smart hosts:").check()
    row_input(page, "Smart host (IP address or FQDN)", 1).fill("192.168.1.100")
    page.get_by_role("button", name="Add").click()
    row_input(page, "Smart host (IP address or FQDN)", 2).fill("smtp.fabrikam.com")
    next_page(page, "Configure smart host authentication settings")

    page.get_by_label("Basic Authentication over TLS").check()
    page.get_by_label("User name:").fill("relay")
    page.get_by_label("Password:").fill("s3cret")
    next_page(page, "Source Server")

    page.get_by_label("HUB02").uncheck()
    next_page(page, "New Connector")
    expect(page.get_by_text("SMTP:*.fabrikam.com;10")).to_be_visible()
    assert not SendConnector.objects.exists()
    page.get_by_role("button", name="New").click()

    assert completed_command(page) == SEND_COMMAND
    expect(page.get_by_text(re.compile(r"Elapsed Time: \d\d:\d\d:\d\d"))).to_be_visible()
    connector = SendConnector.objects.get(name="To Fabrikam")
    assert connector.address_spaces == ["SMTP:*.fabrikam.com;10", "SMTP:tailspintoys.com;20"]
    assert connector.is_scoped_connector and not connector.dns_routing_enabled
    assert connector.smart_hosts == ["[192.168.1.100]", "smtp.fabrikam.com"]
    assert connector.smart_host_auth_mechanism == "BasicAuthRequireTLS"
    assert connector.authentication_credential == ("relay", "s3cret")
    assert [server.name for server in connector.source_transport_servers.all()] == ["HUB01"]

    page.get_by_role("link", name="Finish").click()
    row = page.locator("tr.selectable", has_text="To Fabrikam")
    expect(row).to_contain_text("SMTP:*.fabrikam.com;10, SMTP:tailspintoys.com;20")

    # Properties: select the row, open the dialog from the action pane, edit two tabs, OK.
    row.click()
    page.locator("#selection-actions").get_by_role("button", name="Properties").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("To Fabrikam Properties")
    dialog.get_by_role("tab", name="Address Space").click()
    row_input(dialog, "Cost", 2).fill("30")
    dialog.get_by_role("tab", name="Source Server").click()
    dialog.get_by_label("HUB02").check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#status")).to_contain_text(
        "Exchange Management Shell command completed: Set-SendConnector 'To Fabrikam' "
        "-AddressSpaces 'SMTP:*.fabrikam.com;10','SMTP:tailspintoys.com;30' -SourceTransportServers 'HUB01','HUB02'")
    connector.refresh_from_db()
    assert connector.address_spaces == ["SMTP:*.fabrikam.com;10", "SMTP:tailspintoys.com;30"]
    assert sorted(server.name for server in connector.source_transport_servers.all()) == ["HUB01", "HUB02"]
    expect(row).to_contain_text("SMTP:tailspintoys.com;30")

    # Remove from the context menu, confirming the question that names the connector.
    questions = []
    page.once("dialog", lambda question: (questions.append(question.message), question.accept()))
    page.locator("tr.selectable", has_text="To Fabrikam").click(button="right")
    page.get_by_role("menuitem", name="Remove").click()
    expect(page.locator("tr.selectable", has_text="To Fabrikam")).to_have_count(0)
    assert questions == ["Are you sure you want to permanently remove Send connector 'To Fabrikam'?"]
    expect(page.locator("#status")).to_contain_text("Remove-SendConnector 'To Fabrikam'")
    assert not SendConnector.objects.filter(name="To Fabrikam").exists()


def test_a_receive_connector_created_edited_and_removed(console):
    page = console
    page.get_by_role("tree").get_by_role("link", name="Hub Transport").nth(1).click()
    expect(page.get_by_role("heading", name="Receive Connectors (HUB01)")).to_be_visible()
    page.get_by_role("link", name="New Receive Connector...").click()

    page.get_by_label("Name:").fill("Partner Relay")
    page.get_by_label("Custom - Create a Receive connector with custom settings.").check()
    next_page(page, "Local Network settings")
    row_input(page, "IP address (or (All available IPv4))", 1).fill("127.0.0.1")
    row_input(page, "Port", 1).fill("2526")
    page.get_by_label("Specify the FQDN this connector will provide in response to HELO or EHLO:").fill(
        "relay.contoso.com")
    next_page(page, "Remote Network settings")
    ranges = "IP address, range (a-b) or CIDR"
    expect(row_input(page, ranges, 1)).to_have_value("0.0.0.0-255.255.255.255")
    row_input(page, ranges, 1).fill("192.168.10.0/24")
    page.get_by_role("button", name="Add").click()
    row_input(page, ranges, 2).fill("10.0.0.5")
    next_page(page, "New Connector")
    page.get_by_role("button", name="New").click()

    assert completed_command(page) == RECEIVE_COMMAND
    connector = ReceiveConnector.objects.get(name="Partner Relay")
    assert connector.bindings == ["127.0.0.1:2526"] and connector.fqdn == "relay.contoso.com"
    assert connector.remote_ip_ranges == ["192.168.10.0/24", "10.0.0.5"]
    assert connector.permission_groups == [] and connector.auth_mechanism == ["Tls"]
    page.get_by_role("link", name="Finish").click()

    # Properties from the keyboard: focus the row, Enter; Apply, then OK.
    row = page.locator("#result-list tr.selectable", has_text="Partner Relay")
    row.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("tab", name="Permission Groups").click()
    dialog.get_by_label("Anonymous users").check()
    dialog.get_by_role("tab", name="Authentication").click()
    dialog.get_by_label("Basic Authentication", exact=True).check()
    dialog.get_by_role("button", name="Apply").click()
    expect(dialog).to_contain_text("Exchange Management Shell command completed: Set-ReceiveConnector "
                                   "'HUB01\\Partner Relay' -PermissionGroups 'AnonymousUsers' "
                                   "-AuthMechanism 'Tls, BasicAuth'")
    connector.refresh_from_db()
    assert connector.permission_groups == ["AnonymousUsers"] and connector.auth_mechanism == ["Tls", "BasicAuth"]
    dialog.get_by_role("tab", name="Network").click()
    row_input(dialog, ranges, 2).fill("10.0.0.6")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    # The list refreshes itself after OK; select the row only once it shows the change.
    expect(page.locator("#result-list tr.selectable", has_text="Partner Relay")).to_contain_text("10.0.0.6")
    connector.refresh_from_db()
    assert connector.remote_ip_ranges == ["192.168.10.0/24", "10.0.0.6"]
    assert connector.version == 3

    # Disable from the action pane, then remove with the Delete key.
    page.on("dialog", lambda question: question.accept())
    row = page.locator("#result-list tr.selectable", has_text="Partner Relay")
    row.click()
    page.locator("#selection-actions").get_by_role("button", name="Disable").click()
    expect(page.locator("#result-list tr.selectable", has_text="Partner Relay")).to_contain_text("Disabled")
    connector.refresh_from_db()
    assert not connector.enabled
    page.locator("#result-list tr.selectable", has_text="Partner Relay").focus()
    page.keyboard.press("Delete")
    expect(page.locator("#result-list tr.selectable", has_text="Partner Relay")).to_have_count(0)
    assert not ReceiveConnector.objects.filter(name="Partner Relay").exists()


def test_the_wizard_shows_an_error_beside_the_field_and_back_forward_work(console):
    page = console
    page.get_by_role("link", name="New Send Connector...").click()
    page.get_by_label("Name:").fill("Bad Costs")
    next_page(page, "Address space")
    row_input(page, "Address", 1).fill("contoso.com")
    row_input(page, "Cost", 1).fill("101")
    page.get_by_role("button", name="Next >").click()
    expect(page.get_by_role("alert")).to_contain_text("the cost must be between 1 and 100")
    expect(row_input(page, "Cost", 1)).to_have_value("101")
    page.get_by_role("button", name="< Back").click()
    expect(page.get_by_label("Name:")).to_have_value("Bad Costs")
    page.go_back()
    expect(page.get_by_role("heading", name="Address space")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("tab", name="Accepted Domains").click()
    expect(page.locator("#result-list")).to_contain_text("contoso.com")
    page.go_back()
    expect(page.get_by_role("tab", name="Send Connectors")).to_have_attribute("aria-selected", "true")
    page.go_forward()
    expect(page.get_by_role("tab", name="Accepted Domains")).to_have_attribute("aria-selected", "true")
    page.reload()
    expect(page.locator("#result-list")).to_contain_text("contoso.com")
    assert not SendConnector.objects.exists()


def test_the_console_is_usable_from_the_keyboard(console):
    page = console
    page.get_by_role("tab", name="Accepted Domains").click()
    row = page.locator("#result-list tr.selectable", has_text="contoso.com")
    row.focus()
    page.keyboard.press("Shift+F10")
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Properties")).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(row).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("contoso.com Properties")
    expect(dialog.get_by_label("Name:")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
