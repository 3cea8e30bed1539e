"""Organization Configuration > Hub Transport > Routing Group Connectors in Chromium: the list Exchange 2010's
console shows, and a connector's properties, read-only (no Remove, no OK: the shell manages them)."""
import pytest
from playwright.sync_api import expect

from tests.shell_helpers import ems

pytestmark = pytest.mark.browser
EX2010 = "Exchange Routing Group (DWBGZMFD01QNBJR)"


def test_routing_group_connectors_are_listed_and_their_properties_shown_read_only(console):
    page = console
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        "New-LegacyExchangeServer EX2003 -Fqdn ex2003.contoso.com -RoutingGroup 'First Routing Group'\n"
        "New-RoutingGroupConnector Interop -SourceTransportServers HUB01 -TargetTransportServers EX2003 -Cost 5 "
        "-BiDirectional $true")
    page.get_by_role("tab", name="Routing Group Connectors").click()
    rows = page.locator("table[aria-label='Routing Group Connectors'] tr.selectable")
    expect(rows).to_have_count(2)
    for cell in ("Interop", EX2010, "First Routing Group", "5", "Unlimited"):
        expect(rows.first).to_contain_text(cell)

    row = page.locator("tr.selectable", has_text=f"{EX2010}").filter(has_text="First Routing Group").first
    row.click()
    expect(page.locator("#selection-actions").get_by_role("button", name="Remove")).to_have_count(0)
    page.locator("#selection-actions").get_by_role("button", name="Properties").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Interop Properties")
    expect(dialog).to_contain_text("managed in the Exchange Management Shell")
    expect(dialog.get_by_label("Cost:")).to_have_value("5")
    expect(dialog.get_by_label("Cost:")).to_be_disabled()
    dialog.get_by_role("tab", name="Servers").click()
    expect(dialog.get_by_label("Target routing group:")).to_be_visible()
    expect(dialog.get_by_role("button", name="OK")).to_have_count(0)
