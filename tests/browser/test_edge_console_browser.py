"""The console's Edge Transport parts, in Chromium: Organization Configuration > Hub Transport > Edge
Subscriptions (New from an Edge's subscription file, Remove), the subscribed Edge in Server Configuration, and
the console run against an Edge Transport server's own database."""
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.edge.models import EdgeSubscription, EdgeSyncState
from exchange_console.organization import setup
from exchange_console.organization.models import Organization, TransportConfig, TransportServer
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object
from tests.browser.conftest import signed_in
from tests.console_data import edge_subscription_file

pytestmark = pytest.mark.browser

SITE = "Default-First-Site-Name"
INTERNET = f"EdgeSync - {SITE} to Internet"
NEW_COMMAND = (f"New-EdgeSubscription -FileData '<Binary Data>' -Site '{SITE}' -CreateInternetSendConnector $true "
               "-CreateInboundSendConnector $false")
MANAGED_BY_EDGESYNC = (
    f"The SendConnector '{INTERNET}' is managed by EdgeSync: this Edge Transport server is subscribed to an "
    "Exchange organization, which replicates it here. Change it in the organization (EdgeSync brings the change "
    "here), or remove the Edge subscription to manage it on this server.")


def subscription_file(folder, name, effective):
    path = folder / name
    path.write_bytes(edge_subscription_file(effective))
    return path


def test_an_edge_subscription_is_created_from_its_file_and_removed(console, tmp_path):
    page = console
    expired = subscription_file(tmp_path, "Expired.xml", timezone.now() - timedelta(days=2))
    current = subscription_file(tmp_path, "EdgeSubscriptionInfo.xml", timezone.now())

    page.get_by_role("tab", name="Edge Subscriptions").click()
    expect(page.locator("#result-list")).to_contain_text("There are no items to show in this view.")
    page.get_by_role("link", name="New Edge Subscription...").click()
    expect(page.get_by_role("heading", name="New Edge Subscription")).to_be_visible()
    expect(page.get_by_label("Active Directory site:")).to_have_value(SITE)
    expect(page.get_by_label("Automatically create a Send connector for this Edge subscription")).to_be_checked()

    # The service's refusal, beside the field it names; nothing half-saved.
    page.get_by_label("Subscription file:").set_input_files(expired)
    page.get_by_role("button", name="New").click()
    expect(page.locator("#id_FileData_errors")).to_contain_text(
        "FileData: the Edge subscription file of EDGE01 expired at")
    assert not TransportServer.objects.filter(name="EDGE01").exists()

    page.get_by_label("Subscription file:").set_input_files(current)
    page.get_by_label("Automatically create a Send connector from the Edge Transport server").uncheck()
    page.get_by_role("button", name="New").click()
    expect(page.get_by_text("Exchange Management Shell command completed:")).to_be_visible()
    assert page.locator("pre.command").inner_text().strip() == NEW_COMMAND
    subscription = EdgeSubscription.objects.get()
    assert (subscription.server.name, subscription.server.role, subscription.site.name) == ("EDGE01", "Edge", SITE)
    assert list(SendConnector.objects.values_list("name", flat=True)) == [INTERNET]

    page.get_by_role("link", name="Finish").click()
    row = page.locator("#result-list tr.selectable", has_text="EDGE01")
    expect(row).to_contain_text(SITE)
    expect(row).to_contain_text("contoso.com")
    expect(page.locator("#result-list thead")).to_contain_text("Last Synchronization")

    # Server Configuration lists the Edge, read-only: it is managed on the Edge.
    page.get_by_role("tree").get_by_role("link", name="Hub Transport").nth(1).click()
    servers = page.get_by_role("table", name="Transport servers")
    expect(servers.locator("tr", has_text="EDGE01")).to_contain_text("Edge Transport")
    expect(servers.locator("tr", has_text="HUB01")).to_contain_text("Hub Transport")
    servers.get_by_role("link", name="EDGE01").click()
    expect(page.get_by_role("note")).to_contain_text(
        "EDGE01 is an Edge Transport server subscribed to the site Default-First-Site-Name. It is managed on the "
        "Edge Transport server itself")
    expect(page.get_by_role("link", name="New Receive Connector...")).to_have_count(0)
    page.get_by_role("complementary", name="Actions").get_by_role("link", name="Properties").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("note")).to_contain_text("It is managed on the Edge Transport server itself")
    expect(dialog.get_by_role("button", name="OK")).to_have_count(0)
    dialog.get_by_role("link", name="Close").click()

    # Remove, from the Edge Subscriptions tab: the Edge and its connector leave the organization.
    page.get_by_role("tree").get_by_role("link", name="Hub Transport").first.click()
    page.get_by_role("tab", name="Edge Subscriptions").click()
    questions = []
    page.once("dialog", lambda question: (questions.append(question.message), question.accept()))
    page.locator("#result-list tr.selectable", has_text="EDGE01").click()
    page.locator("#selection-actions").get_by_role("button", name="Remove").click()
    expect(page.locator("#result-list tr.selectable", has_text="EDGE01")).to_have_count(0)
    assert questions == ["Are you sure you want to permanently remove Edge subscription 'EDGE01'?"]
    expect(page.locator("#status")).to_contain_text("Remove-EdgeSubscription 'EDGE01'")
    assert not EdgeSubscription.objects.exists() and not TransportServer.objects.filter(name="EDGE01").exists()
    assert not SendConnector.objects.exists()


@pytest.fixture
def subscribed_edge(db):
    """An Edge Transport server's own database, subscribed: what EdgeSync left there (the organization, its
    transport settings, an accepted domain and the Internet send connector whose source is this Edge)."""
    edge = setup.install_edge_server("EDGE01", "edge01.contoso.com", SITE, smtp_port=2025)
    organization = Organization.objects.create(name="First Organization")
    TransportConfig.objects.create(organization=organization)
    new_object(ACCEPTED_DOMAIN, {"Name": "contoso.com", "DomainName": "contoso.com"})
    new_object(SEND_CONNECTOR, {"Name": INTERNET, "AddressSpaces": "SMTP:*;100", "DNSRoutingEnabled": True,
                                "SourceTransportServers": [edge]})
    EdgeSyncState.objects.filter(server=edge).update(site=SITE, subscribed=timezone.now())
    return edge


@pytest.fixture
def edge_console(chromium, live_server, admin_user, subscribed_edge):
    """The console of that Edge, signed in."""
    context, page = signed_in(chromium, live_server)
    yield page
    context.close()


def test_an_edge_console_shows_synchronized_objects_read_only_and_its_own_editable(edge_console, live_server):
    page = edge_console
    tree = page.get_by_role("tree")
    expect(tree.get_by_role("link", name="Mailbox")).to_have_count(0)
    expect(page.get_by_role("tab", name="Edge Subscriptions")).to_have_count(0)
    actions = page.get_by_role("complementary", name="Actions")
    expect(actions.get_by_role("link", name="New Send Connector...")).to_have_count(0)
    expect(actions.get_by_role("link", name="New Accepted Domain...")).to_have_count(0)
    expect(actions.get_by_role("link", name="New Edge Subscription...")).to_have_count(0)

    # A synchronized send connector: no Disable/Remove, and its dialog says EdgeSync manages it.
    expect(page.locator("#result-list").get_by_role("note")).to_contain_text("These objects are managed by EdgeSync")
    row = page.locator("#result-list tr.selectable", has_text=INTERNET)
    row.click()
    selection = page.locator("#selection-actions")
    expect(selection.get_by_role("button", name="Remove")).to_be_hidden()
    expect(selection.get_by_role("button", name="Disable")).to_be_hidden()
    selection.get_by_role("button", name="Properties").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("note")).to_have_text(MANAGED_BY_EDGESYNC)
    expect(dialog.get_by_role("button", name="OK")).to_have_count(0)
    expect(dialog.get_by_role("textbox", name="Name:")).to_be_disabled()
    page.keyboard.press("Escape")
    page.get_by_role("tab", name="Accepted Domains").click()
    expect(page.locator("#result-list tr.selectable", has_text="contoso.com")).to_be_visible()
    expect(page.locator("#result-list").get_by_role("note")).to_contain_text("managed by EdgeSync")

    # The Edge server itself, its subscription and its receive connector, which stays editable.
    tree.get_by_role("link", name="Edge Transport").click()
    expect(page.get_by_role("heading", name="Edge Transport", exact=True)).to_be_visible()
    servers = page.get_by_role("table", name="Edge Transport servers")
    expect(servers.locator("tbody tr")).to_have_count(1)
    expect(servers.locator("tr", has_text="EDGE01")).to_contain_text("Edge Transport")
    subscription = page.get_by_role("table", name="Edge Subscriptions")
    expect(subscription.locator("thead")).to_have_text("NameSiteDomain")
    expect(subscription.locator("tbody")).to_have_text(f"EDGE01{SITE}contoso.com")
    expect(actions.get_by_role("link", name="New Receive Connector...")).to_be_visible()
    receive = page.locator("#result-list tr.selectable", has_text="Default internal receive connector EDGE01")
    receive.click()
    page.locator("#selection-actions").get_by_role("button", name="Properties").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Banner:").fill("220 edge01.contoso.com ready")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#status")).to_contain_text(
        "Set-ReceiveConnector 'EDGE01\\Default internal receive connector EDGE01' -Banner '220 edge01.contoso.com ready'")

    # Hub-only pages aren't there.
    assert page.request.get(f"{live_server.url}/console/recipients/mailbox/").status == 404
    assert page.request.get(f"{live_server.url}/console/organization/hub-transport/edge-subscriptions/").status == 404
