"""Server time of the console's list pages with 1,000 send connectors and 100 Hub servers.

Runs in a throw-away test database (SQLite in memory by default, or the one DATABASE_URL names, with the
test_ prefix), requests each page through Django's full request handling (middleware, session, templates)
and prints the median and the slowest of the runs with the number of SQL queries per request.

    .venv/bin/python bench/console_lists.py [--runs 20]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from exchange_console.organization import setup  # noqa: E402
from tests.console_data import add_hub_servers, add_send_connectors  # noqa: E402

PAGES = {
    "Send Connectors (1,000)": "/console/organization/hub-transport/send-connectors/",
    "Send Connectors, filtered": "/console/organization/hub-transport/send-connectors/?q=domain09",
    "Send Connectors, sorted by Address Spaces": "/console/organization/hub-transport/send-connectors/?sort=Address+Spaces",
    "Send Connectors list only (htmx)": ("/console/organization/hub-transport/send-connectors/",
                                         {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "result-list"}),
    "Server Configuration > Hub Transport (101 servers)": "/console/servers/hub-transport/HUB01/",
}


def populate():
    setup.install_organization("First Organization", "Default-First-Site-Name")
    setup.ensure_accepted_domain("contoso.com")
    hub = setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name",
                                         smtp_port=2025, submission_port=2587)
    servers = [hub, *add_hub_servers(100)]
    add_send_connectors(1000, servers)
    get_user_model().objects.create_superuser("bench", "bench@contoso.com", "bench")


def measure(client, path, headers, runs):
    timings = []
    client.get(path, **headers)  # warm the template cache
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(path, **headers)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(timings), max(timings), len(queries), len(response.content)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        populate()
        client = Client()
        client.login(username="bench", password="bench")
        print(f"database: {connection.vendor}; {runs} requests per page")
        print(f"{'page':<52} {'median ms':>10} {'max ms':>8} {'queries':>8} {'KB':>6}")
        for title, target in PAGES.items():
            path, headers = target if isinstance(target, tuple) else (target, {})
            median, slowest, queries, size = measure(client, path, headers, runs)
            print(f"{title:<52} {median * 1000:>10.1f} {slowest * 1000:>8.1f} {queries:>8} {size / 1024:>6.0f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
