"""A long list in Chromium: the "more objects" notice, rows that arrive as the list scrolls, and the maximum
number of objects to display changed in the view."""
import re

import pytest
from playwright.sync_api import expect

from exchange_console.console.kinds import PAGE_ROWS
from tests.console_data import add_send_connectors

pytestmark = pytest.mark.browser

NOTICE = "There are more than 60 objects; only the first 60 are displayed."


def test_the_more_objects_notice_and_a_larger_maximum(console, hub):
    page = console
    add_send_connectors(70, [hub])
    page.goto("/console/organization/hub-transport/send-connectors/?max=60")
    rows = page.locator("table[aria-label='Send Connectors'] tr.selectable")
    expect(page.get_by_role("status").filter(has_text=NOTICE)).to_be_visible()
    expect(page.get_by_text("60 objects", exact=True)).to_be_visible()
    expect(rows).to_have_count(PAGE_ROWS)

    page.locator("#more-rows").scroll_into_view_if_needed()
    expect(rows).to_have_count(60)   # the next rows, up to the maximum and no further
    expect(rows.last).to_have_attribute("data-name", "Route 0059")

    page.get_by_label("Maximum number of objects to display:").fill("1000")
    page.get_by_role("button", name="Apply Filter").click()
    expect(page.get_by_text("70 objects", exact=True)).to_be_visible()
    expect(page.get_by_text("There are more than")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"send-connectors/\?.*max=1000"))   # a reload keeps the maximum
