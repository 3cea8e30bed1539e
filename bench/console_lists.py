"""Server time of the console's list pages with 1,000 send connectors and 100 Hub servers.

Runs in a throw-away test database (SQLite in memory by default, or the one DATABASE_URL names, with the
test_ prefix), requests each page through Django's full request handling (middleware, session, templates)
and prints the median and the slowest of the runs with the number of SQL queries per request.

    .venv/bin/python bench/console_lists.py [--runs 20]
"""
from pages import run  # sets up Django first

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


if __name__ == "__main__":
    run(__doc__.splitlines()[0], populate, PAGES)
