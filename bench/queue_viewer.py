"""Server time of the Queue Viewer with 10,000 queued messages on one server.

Runs in a throw-away test database (SQLite in memory by default, or the one DATABASE_URL names, with the
test_ prefix) and prints the median and the slowest of the runs with the number of SQL queries per request.

    .venv/bin/python bench/queue_viewer.py [--runs 20]
"""
from pages import run  # sets up Django first

from exchange_console.organization import setup  # noqa: E402
from tests.queue_data import add_queued_messages  # noqa: E402

VIEWER = "/toolbox/queues/"
PAGES = {
    "Queues tab": VIEWER,
    "Messages tab, first page of 100": f"{VIEWER}?tab=messages",
    "Messages tab, page 50": f"{VIEWER}?tab=messages&page=50",
    "Messages sorted by Subject, descending": f"{VIEWER}?tab=messages&sort=-Subject",
    "Messages filtered: Status -eq 'Suspended'": f"{VIEWER}?tab=messages&filter=Status+-eq+%27Suspended%27",
    "Messages filtered: Subject -like 'Invoice 09*'": f"{VIEWER}?tab=messages&filter=Subject+-like+%27Invoice+09*%27",
    "Messages filtered by Queue (record by record)": f"{VIEWER}?tab=messages&filter=Queue+-like+%27*%5C1%27",
    "Messages list only (htmx refresh)": (f"{VIEWER}?tab=messages", {"HTTP_HX_REQUEST": "true",
                                                                  "HTTP_HX_TARGET": "viewer-rows"}),
}


def populate():
    setup.install_organization("First Organization", "Default-First-Site-Name")
    setup.ensure_accepted_domain("contoso.com")
    hub = setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name",
                                         smtp_port=2025, submission_port=2587)
    add_queued_messages(hub, 10_000)


if __name__ == "__main__":
    run(__doc__.splitlines()[0], populate, PAGES)
