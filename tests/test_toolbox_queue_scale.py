"""The Queue Viewer with 10,000 queued messages: paging, sorting and filtering take a bounded number of queries
and show the right rows (one data set for the whole module: building it is the slow part)."""
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.queue_data import add_queued_messages

MESSAGES_PAGE = "/toolbox/queues/?tab=messages"
PAGES = ["", "&page=50", "&sort=-Subject", "&filter=Status+-eq+%27Suspended%27",
         "&filter=Subject+-like+%27Invoice+09*%27+-and+-not+(Status+-eq+%27Retry%27)", "&filter=Queue+-like+%27*%27"]


def rows(response):
    return response.content.decode().count('name="selected"')


def test_ten_thousand_messages_page_and_filter_in_bounded_queries(hub, admin_client):
    add_queued_messages(hub, 10_000)
    for query in PAGES:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(MESSAGES_PAGE + query)
        assert response.status_code == 200 and rows(response) == 100, query
        assert len(queries) <= 12, (query, len(queries))
    only = admin_client.get(MESSAGES_PAGE + "&filter=Subject+-eq+%27Invoice+04242%27")
    assert rows(only) == 1 and "Invoice 04242" in only.content.decode()
    suspended = admin_client.get(MESSAGES_PAGE + "&filter=Status+-eq+%27Suspended%27&page=10").content.decode()
    assert "Page 10 of 10" in suspended
    with CaptureQueriesContext(connection) as queries:
        queues = admin_client.get("/toolbox/queues/").content.decode()
    assert queues.count("<td>2500</td>") == 4 and len(queries) <= 12
    assert "<title>Queue Viewer - Exchange Management Console</title>" in queues
    assert queues.count('aria-label="Statistics"') == 1
    assert 'href="?tab=messages&amp;sort=-Subject">Subject</a>' in admin_client.get(
        MESSAGES_PAGE + "&sort=Subject").content.decode()
