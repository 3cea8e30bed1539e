"""The Queue Viewer's Messages tab in Chromium with a Queue filter typed in its filter box: the rows of that queue
only, paged, and the live refresh that brings in a change made while the administrator watches."""
import pytest
from playwright.sync_api import expect

from tests.queue_data import add_queued_messages
from transport.queue.models import QueuedMessage

pytestmark = pytest.mark.browser


def test_a_queue_filter_shows_that_queues_messages_and_their_changes(console, hub):
    first, second = add_queued_messages(hub, 250, queues=2)
    page = console
    page.goto("/toolbox/queues/?tab=messages")
    page.get_by_label("Filter:").fill(f"Queue -eq '{second.identity}'")
    page.get_by_role("button", name="Apply Filter").click()

    rows = page.get_by_role("table", name="Messages").get_by_role("row").filter(has=page.get_by_role("checkbox"))
    expect(rows).to_have_count(100)
    expect(rows.filter(has_text=second.identity)).to_have_count(100)
    expect(rows.filter(has_text=first.identity)).to_have_count(0)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(25)
    expect(rows.filter(has_text=second.identity)).to_have_count(25)

    watched = QueuedMessage.objects.filter(queue=second).order_by("date_received", "id").last()
    row = rows.filter(has_text=watched.subject)
    expect(row).to_contain_text("Retry")
    QueuedMessage.objects.filter(pk=watched.pk).update(status="Suspended")
    expect(row).to_contain_text("Suspended", timeout=15_000)   # the rows refresh every 5 seconds
    expect(rows).to_have_count(25)
