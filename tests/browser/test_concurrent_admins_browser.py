"""Two administrators in two browsers: the second save of the same connector is refused naming the first
administrator; edits of different connectors both succeed."""
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from exchange_console.accounts.models import RoleGroup, RoleGroupMember
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import new_object
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.browser
PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def two_admins(chromium, live_server, hub):
    pages = {}
    for name in ("olga", "otto"):
        user = get_user_model().objects.create_user(name, password=PASSWORD)
        RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(RoleGroup.ORGANIZATION_MANAGEMENT))
        context = chromium.new_context(base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto("/login/")
        page.get_by_label("User name:").fill(name)
        page.get_by_label("Password:").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/**")
        pages[name] = page
    yield pages
    for page in pages.values():
        page.context.close()


def open_properties(page, connector):
    """Select the connector in the Send Connectors list and open its properties dialog from the action pane."""
    page.goto("/console/organization/hub-transport/send-connectors/")
    page.locator("tr.selectable", has_text=connector.name).click()
    page.locator("#selection-actions").get_by_role("button", name="Properties").click()
    expect(page.get_by_role("dialog").get_by_label("Comment:")).to_be_visible()


def save_comment(page, text):
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Comment:").fill(text)
    dialog.get_by_role("button", name="OK").click()


def test_the_second_save_of_the_same_connector_is_refused_with_the_first_admins_name(two_admins):
    connector = new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*"})
    olga, otto = two_admins["olga"], two_admins["otto"]
    open_properties(olga, connector)
    open_properties(otto, connector)
    save_comment(olga, "Olga's change")
    expect(olga.locator("#status")).to_contain_text("Set-SendConnector 'To Internet' -Comment 'Olga''s change'")
    save_comment(otto, "Otto's change")
    dialog = otto.get_by_role("dialog")
    expect(dialog).to_contain_text("was changed by olga at")
    expect(dialog).to_contain_text("(Comment: (empty) -> Olga's change)")
    expect(dialog.get_by_label("Comment:")).to_have_value("Otto's change")   # what otto typed is kept
    assert SendConnector.objects.get().comment == "Olga's change"


def test_edits_of_different_connectors_both_succeed(two_admins):
    first = new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*"})
    second = new_object(SEND_CONNECTOR, {"Name": "To Partner", "AddressSpaces": "partner.example"})
    olga, otto = two_admins["olga"], two_admins["otto"]
    open_properties(olga, first)
    open_properties(otto, second)
    save_comment(olga, "checked by olga")
    save_comment(otto, "checked by otto")
    expect(olga.locator("#status")).to_contain_text("Set-SendConnector 'To Internet' -Comment 'checked by olga'")
    expect(otto.locator("#status")).to_contain_text("Set-SendConnector 'To Partner' -Comment 'checked by otto'")
    assert dict(SendConnector.objects.values_list("name", "comment")) == {
        "To Internet": "checked by olga", "To Partner": "checked by otto"}


def test_a_list_shows_a_notice_when_another_administrator_changes_it(two_admins):
    connector = new_object(SEND_CONNECTOR, {"Name": "To Internet", "AddressSpaces": "*"})
    olga, otto = two_admins["olga"], two_admins["otto"]
    olga.goto("/console/organization/hub-transport/send-connectors/")
    rows = olga.locator("#result-list tr.selectable")
    expect(rows).to_have_count(1)
    open_properties(otto, connector)
    save_comment(otto, "changed while olga looks")
    expect(olga.get_by_role("status").filter(has_text="otto changed send connector 'To Internet'")).to_be_visible(
        timeout=15_000)
    expect(rows).to_have_count(1)          # the list stays as it was until olga refreshes it
