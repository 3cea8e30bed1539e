"""The Queue Viewer with 10,000 queued messages: paging, sorting and filtering take a bounded number of queries
and show the right rows (one data set for the whole module: building it is the slow part)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from exchange_console.shell.results import MORE_RESULTS
from tests.queue_data import add_queued_messages
from tests.shell_helpers import shell

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


def test_get_message_and_get_queue_list_at_most_result_size_like_exchange(hub):
    add_queued_messages(hub, 1_500)
    host = BufferHost()
    with CaptureQueriesContext(connection) as queries:
        listed = shell("Get-Message", host)
    assert len(listed) == 1000 and host.warnings == f"WARNING: {MORE_RESULTS}\n"   # Exchange's default: 1000
    assert len(queries) <= 5   # the page of messages, their queues, servers and recipients: not one per message
    assert [message.get("Subject") for message in listed[:2]] == ["Invoice 01499", "Invoice 01498"]   # oldest first
    assert listed[0].get("Recipients") == ["r0@fabrikam.example", "r1@fabrikam.example"]
    host = BufferHost()
    assert len(shell("Get-Message -ResultSize Unlimited", host)) == 1_500 and host.warnings == ""
    assert len(shell("Get-Message -Filter {Status -eq 'Suspended'} -ResultSize 150", host)) == 150
    assert host.warnings == ""   # exactly 150 are suspended: nothing more to show
    (queue, *_) = shell("Get-Queue")
    assert len(shell(f"Get-Message -Queue '{queue.get('Identity')}' -ResultSize 10")) == 10
    host = BufferHost()
    assert len(shell("Get-Queue -ResultSize 3", host)) == 3 and host.warnings == f"WARNING: {MORE_RESULTS}\n"


@pytest.mark.parametrize("size", ["0", "-1", "many"])
def test_a_result_size_that_is_no_count_is_refused_naming_the_parameter(hub, size):
    with pytest.raises(ShellError) as refused:
        shell(f"Get-Message -ResultSize {size}")
    assert refused.value.message == (f"Cannot bind parameter 'ResultSize'. Cannot convert value \"{size}\" to type "
                                     "\"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\".")
