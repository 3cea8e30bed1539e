"""Server time of the Queue Viewer with 100,000 queued messages on one server.

Runs in a throw-away test database and prints the median and the slowest of the runs with the number of SQL
queries per request: SQLite by default, or with --postgres a database of the bench's own on the local server
(test_bench_queues_<pid>, created and dropped by the run; DATABASE_URL is not read then).

    .venv/bin/python bench/queue_viewer.py [--runs 20] [--messages 100000] [--postgres]
"""
import argparse
import os
import sys
from urllib.parse import urlencode

ARGUMENTS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGUMENTS.add_argument("--messages", type=int, default=100_000)
ARGUMENTS.add_argument("--postgres", action="store_true")
OPTIONS, sys.argv[1:] = ARGUMENTS.parse_known_args()
if OPTIONS.postgres:   # before Django reads its settings
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/bench_queues_{os.getpid()}"

from pages import run  # noqa: E402  (sets up Django first)

import statistics  # noqa: E402
import time  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from exchange_console.organization import setup  # noqa: E402
from exchange_console.toolbox.queue_viewer import ViewerState  # noqa: E402
from tests.queue_data import add_queued_messages  # noqa: E402

VIEWER = "/toolbox/queues/"
MESSAGES = f"{VIEWER}?tab=messages"
REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "viewer-rows"}
FILTERS = {   # one per property a Get-Message filter can name
    "Identity": "Identity -eq 'HUB01\\1\\5'",
    "Queue": "Queue -like '*\\1'",
    "FromAddress": "FromAddress -eq 'user5@contoso.com'",
    "Recipients": "Recipients -like 'r1@*'",
    "Status": "Status -eq 'Suspended'",
    "Subject": "Subject -like 'Invoice 09*'",
    "Size": "Size -gt 4KB",
    "DateReceived": "DateReceived -lt '2000-01-01'",
    "InternetMessageId": "InternetMessageId -eq '<4242@contoso.com>'",
    "RetryCount": "RetryCount -ge 1",
    "LastError": "LastError -like '*refused*'",
    "-and -not": "Subject -like 'Invoice 09*' -and -not (Status -eq 'Retry')",
}
SORTS = ("FromAddress", "-Subject", "Size", "Status", "Queue", "-DateReceived", "LastError")


def pages():
    listed = {"Queues tab": VIEWER, "Queues filtered: Identity -like 'HUB01\\2'":
              f"{VIEWER}?filter=Identity+-like+%27HUB01%5C2%27",
              "Messages tab, first page of 100": MESSAGES, "Messages tab, page 50": f"{MESSAGES}&page=50",
              "Messages tab, last page": f"{MESSAGES}&page={(OPTIONS.messages + 99) // 100}"}
    listed.update({f"Messages sorted by {sort}": f"{MESSAGES}&sort={sort}" for sort in SORTS})
    listed.update({f"Messages filtered: {text}": f"{MESSAGES}&{urlencode({'filter': text})}"
                   for text in FILTERS.values()})
    listed["Messages filtered by Queue, sorted by Subject, page 20"] = (
        f"{MESSAGES}&{urlencode({'filter': FILTERS['Queue'], 'sort': 'Subject', 'page': 20})}")
    listed["Messages list only (htmx refresh, rows changed)"] = (MESSAGES, REFRESH)
    return listed


def populate():
    setup.install_organization("First Organization", "Default-First-Site-Name")
    setup.ensure_accepted_domain("contoso.com")
    hub = setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name",
                                         smtp_port=2025, submission_port=2587)
    add_queued_messages(hub, OPTIONS.messages)
    if connection.vendor == "postgresql":   # the statistics autovacuum would gather on a live server
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def populate_and_time_unchanged_refresh():
    """The data; then the live refresh of a first page nothing changed on, which answers 204 with no rows
    (timed here: the shared page timing expects 200)."""
    populate()
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("watcher", "watcher@contoso.com", "watcher"))
    version = ViewerState(QueryDict("tab=messages")).records()[2]
    path = f"{MESSAGES}&version={version}"
    client.get(path, **REFRESH)
    timings, answers = [], set()
    for _ in range(20):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            answers.add(client.get(path, **REFRESH).status_code)
            timings.append(time.perf_counter() - started)
    print(f"{'Messages list only (htmx refresh, nothing changed)':<52} {statistics.median(timings) * 1000:>10.1f} "
          f"{max(timings) * 1000:>8.1f} {len(queries):>8}  HTTP {', '.join(map(str, sorted(answers)))}")


if __name__ == "__main__":
    run(__doc__.splitlines()[0], populate_and_time_unchanged_refresh, pages())
