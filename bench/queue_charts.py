"""Server time and size of the Queue Viewer's 24-hour charts with a full day of samples (one a minute) for ten
servers: the whole page, the statistics section's htmx refresh, and one server's.

Runs in a throw-away test database (SQLite in memory by default, or the one DATABASE_URL names, with the
test_ prefix) and prints the median and the slowest of the runs with the number of SQL queries per request.

    .venv/bin/python bench/queue_charts.py [--runs 20]
"""
from datetime import timedelta

from pages import run  # sets up Django first

from django.utils import timezone  # noqa: E402

from exchange_console.organization import setup  # noqa: E402
from exchange_console.toolbox.models import QueueSample  # noqa: E402

VIEWER = "/toolbox/queues/"
REFRESH = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "queue-statistics"}
PAGES = {
    "Queues tab, ten servers charted": VIEWER,
    "Statistics refresh (htmx), ten servers": (VIEWER, REFRESH),
    "Statistics refresh (htmx), one server": (f"{VIEWER}?server=HUB05", REFRESH),
    "Messages list only (htmx refresh)": (f"{VIEWER}?tab=messages", {"HTTP_HX_REQUEST": "true",
                                                                  "HTTP_HX_TARGET": "viewer-rows"}),
}


def populate():
    setup.install_organization("First Organization", "Default-First-Site-Name")
    setup.ensure_accepted_domain("contoso.com")
    now = timezone.now().replace(second=0, microsecond=0)
    for number in range(1, 11):
        hub = setup.install_transport_server(f"HUB{number:02}", f"hub{number:02}.contoso.com",
                                             "Default-First-Site-Name", smtp_port=2000 + number,
                                             submission_port=3000 + number)
        QueueSample.objects.bulk_create(
            QueueSample(server=hub, when=now - timedelta(minutes=minute), queued=minute % 50,
                        received=minute % 120, sent=minute % 110) for minute in range(24 * 60))


if __name__ == "__main__":
    run(__doc__.splitlines()[0], populate, PAGES)
