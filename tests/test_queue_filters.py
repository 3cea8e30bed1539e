"""Every property an Exchange queue filter can name, in Get-Message/Get-Queue -Filter and in the Queue Viewer:
filter text -> the identities the administrator sees, each filter one database query; and the Queue Viewer's
live refresh, which answers "nothing changed" (204, no rows) until what its rows show changes."""
import re
from datetime import datetime, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange_console.shell.errors import ShellError
from tests.shell_helpers import shell
from transport.queue.models import DeliveryQueue, QueuedMessage, QueuedRecipient

VIEWER = "/toolbox/queues/"
REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "viewer-rows"}

MESSAGE_FILTERS = [   # {A} is a queue's identity, {m1} a message's
    ("Identity -eq '{m1}'", "m1"),
    ("Identity -ne '{m1}'", "m2 m3 m4"),
    ("Identity -eq 'HUB01\\999\\1'", ""),
    ("Identity -like 'HUB02\\*'", "m4"),
    ("Queue -eq '{A}'", "m1 m2"),
    ("Queue -ne '{A}'", "m3 m4"),
    ("Queue -like 'hub01\\*'", "m1 m2 m3"),
    ("FromAddress -eq 'kim@contoso.com'", "m1 m3 m4"),
    ("FromAddress -like 'olga*'", "m2"),
    ("Recipients -like '*@fabrikam.example*'", "m1 m3 m4"),
    ("Recipients -like '*@fabrikam.example'", "m1 m3 m4"),   # any recipient, as Exchange matches a list
    ("Recipients -eq 'sales@tailspin.example'", "m2"),
    ("Recipients -notlike '*@fabrikam.example'", "m2"),
    ("Status -eq 'Suspended'", "m2"),
    ("Status -ne 'Retry'", "m2 m3"),
    ("Subject -like 'Invoice 09*'", "m1"),
    ("Subject -like 'invoice ?00?'", "m2"),
    ("Subject -like '100% done_ok'", "m3"),   # % and _ are the subject's own characters, not wildcards
    ("Subject -like '100_ done%'", ""),
    ("Subject -eq 'WEEKLY REPORT'", "m4"),
    ("Size -eq 4096", "m1 m4"),
    ("Size -gt 4000", "m1 m2 m4"),
    ("Size -ge 1MB", "m2"),
    ("Size -lt 200", "m3"),
    ("DateReceived -lt '11/02/2026 12:00:00'", "m1 m2"),
    ("DateReceived -ge '2026-11-03'", "m3 m4"),
    ("InternetMessageId -eq '<m2@contoso.com>'", "m2"),
    ("RetryCount -gt 0", "m1 m4"),
    ("LastError -like '*refused*'", "m1"),
    ("LastError -eq $null", "m2 m3 m4"),
    ("Subject -like 'Invoice*' -and -not (Status -eq 'Retry')", "m2"),
    ("(Queue -eq '{A}' -or Size -lt 200) -and FromAddress -like 'kim*'", "m1 m3"),
]
QUEUE_FILTERS = [
    ("Identity -eq '{A}'", "A"),
    ("Identity -like 'HUB01\\*'", "A B"),
    ("MessageCount -gt 1", "A"),
    ("MessageCount -eq 1", "B C"),
    ("DeliveryType -like 'Smart*'", "A"),
    ("NextHopDomain -eq 'fabrikam.example'", "B C"),
    ("NextHopConnector -eq 'ISP'", "A"),
    ("Status -ne 'Ready'", "A C"),
    ("LastError -like '*dropped*'", "A"),
    ("NextRetryTime -eq $null", "B C"),
    ("NextRetryTime -gt '2026-11-01'", "A"),
    ("LastRetryTime -lt '2026-11-01'", ""),
]


def at(day, hour=0):
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def named(hub, second_hub):
    """Three queues on two servers and four messages in them: {name: identity}."""
    def queue(server, name, **fields):
        return DeliveryQueue.objects.create(server=server, next_hop_domain=name, **fields)

    queues = {"A": queue(hub, "[192.0.2.1]", delivery_type="SmartHostConnectorDelivery", next_hop_connector="ISP",
                         status="Retry", last_error="421 4.4.2 Connection dropped", next_retry_time=at(1, 12)),
              "B": queue(hub, "fabrikam.example", delivery_type="DnsConnectorDelivery"),
              "C": queue(second_hub, "fabrikam.example", delivery_type="DnsConnectorDelivery", status="Suspended")}

    def message(name, queue, recipients, **fields):
        created = QueuedMessage.objects.create(queue=queues[queue], store_id=name,
                                               internet_message_id=f"<{name}@contoso.com>", **fields)
        QueuedRecipient.objects.bulk_create(QueuedRecipient(message=created, address=address) for address in recipients)
        return created

    messages = {
        "m1": message("m1", "A", ["partner@fabrikam.example", "ops@fabrikam.example"], from_address="kim@contoso.com",
                      subject="Invoice 0901", size=4096, status="Retry", retry_count=3, date_received=at(1, 10),
                      last_error="451 4.4.0 Connection refused"),
        "m2": message("m2", "A", ["sales@tailspin.example"], from_address="olga@contoso.com", subject="Invoice 1002",
                      size=2 * 1024 * 1024, status="Suspended", date_received=at(2)),
        "m3": message("m3", "B", ["partner@fabrikam.example"], from_address="kim@contoso.com", subject="100% done_ok",
                      size=100, status="Ready", date_received=at(3)),
        "m4": message("m4", "C", ["boss@fabrikam.example"], from_address="Kim@Contoso.com", subject="Weekly report",
                      size=4096, status="Retry", retry_count=1, date_received=at(4)),
    }
    return {name: obj.identity for name, obj in {**queues, **messages}.items()}


def expected(names, named):
    return sorted(named[name] for name in names.split())


def quoted(text):
    """The filter as a single-quoted shell string (a script block would parse it as PowerShell first)."""
    return "'" + text.replace("'", "''") + "'"


def shown(response):
    """The identities in the Queue Viewer's rows, as its row checkboxes name them."""
    return sorted(re.findall(r'aria-label="Select ([^"]+)"', response.content.decode().replace("&#x5C;", "\\")))


@pytest.mark.parametrize(("text", "names"), MESSAGE_FILTERS)
def test_each_message_filter_in_the_shell_and_the_queue_viewer(named, admin_client, text, names):
    text = text.format(**named)
    found = shell(f"Get-Message -Filter {quoted(text)}")
    assert sorted(str(record.identity) for record in found) == expected(names, named)
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(VIEWER, {"tab": "messages", "filter": text})
    assert shown(page) == expected(names, named)
    filtered = [query["sql"] for query in queries if "queues_queuedmessage" in query["sql"]]
    # In the database: the filtered list counted there, then the page's keys and its rows (no read of every
    # message to match it in Python).
    assert len(filtered) <= 3 and "COUNT(" in filtered[0], filtered


@pytest.mark.parametrize(("text", "names"), QUEUE_FILTERS)
def test_each_queue_filter_in_the_shell_and_the_queue_viewer(named, admin_client, text, names):
    text = text.format(**named)
    found = shell(f"Get-Queue -Filter {quoted(text)}")
    assert sorted(str(record.identity) for record in found) == expected(names, named)
    assert shown(admin_client.get(VIEWER, {"filter": text})) == expected(names, named)


def test_a_property_the_objects_lack_is_a_filter_error(named, admin_client):
    with pytest.raises(ShellError) as refused:
        shell("Get-Message -Filter {SourceIP -eq '192.0.2.7'}")
    assert str(refused.value).startswith("Cannot bind parameter 'Filter'. Filter: 'SourceIP' isn't a property a "
                                         "filter can name here; use Identity, FromAddress, Status")
    page = admin_client.get(VIEWER, {"tab": "messages", "filter": "DateReceived -gt 'yesterday'"}).content.decode()
    assert "Filter: &#x27;yesterday&#x27; is not a date and time." in page


def version(page):
    return re.search(r'name="version" value="([0-9a-f]+)"', page.content.decode()).group(1)


def test_the_live_refresh_answers_nothing_changed_until_the_rows_change(named, admin_client):
    query = {"tab": "messages", "filter": "Queue -eq '{A}'".format(**named)}
    held = version(admin_client.get(VIEWER, query))
    with CaptureQueriesContext(connection) as queries:
        unchanged = admin_client.get(VIEWER, {**query, "version": held}, **REFRESH)
    assert (unchanged.status_code, unchanged.content) == (204, b"")
    assert not any("COUNT(" in item["sql"] for item in queries)   # nothing changed costs no count of the queue

    QueuedMessage.objects.filter(subject="Invoice 0901").update(status="Suspended")
    changed = admin_client.get(VIEWER, {**query, "version": held}, **REFRESH)
    assert changed.status_code == 200 and version(changed) != held
    assert re.search(r"<td>Invoice 0901</td><td>[^<]*</td><td>Suspended</td>", changed.content.decode())
    held = version(changed)
    assert admin_client.get(VIEWER, {**query, "version": held}, **REFRESH).status_code == 204

    QueuedRecipient.objects.filter(address="ops@fabrikam.example").delete()   # delivered: the row shows one fewer
    rows = admin_client.get(VIEWER, {**query, "version": held}, **REFRESH).content.decode()
    assert "partner@fabrikam.example" in rows and "ops@fabrikam.example" not in rows
    new = QueuedMessage.objects.create(queue=DeliveryQueue.objects.get(next_hop_connector="ISP"), store_id="m5",
                                       subject="Invoice 0905", date_received=at(5))
    rows = admin_client.get(VIEWER, {**query, "version": held}, **REFRESH)
    assert rows.status_code == 200 and new.identity in shown(rows)
