"""Server time of the console's list pages with 1,000 and with 5,000 send connectors, and 100 Hub servers.

Runs in a throw-away test database per size (SQLite by default; with DATABASE_URL the test_ database beside
the one it names, created and dropped here), requests each page through Django's full request handling
(middleware, session, templates) and prints the median and the slowest of the runs with the number of SQL
queries and the size of the answer.

    .venv/bin/python bench/console_lists.py [--runs 20] [--connectors 1000,5000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_lists_$$ .venv/bin/python bench/console_lists.py
"""
import argparse
import sys

from pages import run  # sets up Django first

from django.test.utils import teardown_test_environment  # noqa: E402

from exchange_console.organization import setup  # noqa: E402
from tests.console_data import add_hub_servers, add_send_connectors  # noqa: E402

SEND_CONNECTORS = "/console/organization/hub-transport/send-connectors/"


def pages(count):
    return {
        f"Send Connectors ({count:,})": SEND_CONNECTORS,
        "Send Connectors, filtered": f"{SEND_CONNECTORS}?q=domain09",
        "Send Connectors, sorted by Address Spaces": f"{SEND_CONNECTORS}?sort=Address+Spaces",
        "Send Connectors, sorted by Source Servers, descending": f"{SEND_CONNECTORS}?sort=Source+Servers&dir=desc",
        "Send Connectors, rows 951-1,000 (scrolled)": (f"{SEND_CONNECTORS}?start=950",
                                                       {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "more-rows"}),
        "Send Connectors list only (htmx)": (SEND_CONNECTORS, {"HTTP_HX_REQUEST": "true",
                                                               "HTTP_HX_TARGET": "result-list"}),
        "Server Configuration > Hub Transport (101 servers)": "/console/servers/hub-transport/HUB01/",
    }


def populate(count):
    def build():
        setup.install_organization("First Organization", "Default-First-Site-Name")
        setup.ensure_accepted_domain("contoso.com")
        hub = setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name",
                                             smtp_port=2025, submission_port=2587)
        servers = [hub, *add_hub_servers(100)]
        add_send_connectors(count, servers)
    return build


def main():
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--connectors", default="1000,5000", help="the sizes to measure, comma-separated")
    options, sys.argv[1:] = parser.parse_known_args()   # --runs is the shared runner's
    for count in map(int, options.connectors.split(",")):
        print(f"\n{count:,} send connectors")
        run(__doc__.splitlines()[0], populate(count), pages(count))
        teardown_test_environment()


if __name__ == "__main__":
    main()
