"""The EMC layout and its result-pane lists: columns, sorting, filtering, partial pages, constant queries."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.console.kinds import PAGE_ROWS
from exchange_console.services import new_object
from tests.console_data import add_hub_servers, add_send_connectors
from tests.console_helpers import text

SEND_CONNECTORS = "/console/organization/hub-transport/send-connectors/"


def names(response):
    return re.findall(r'<tr class="selectable"[^>]*data-name="([^"]+)"', response.content.decode())


@pytest.fixture
def connectors(hub):
    for name, space in (("Bravo", "SMTP:b.com;5"), ("alpha", "SMTP:a.com;1"), ("Charlie", "SMTP:fabrikam.com;2")):
        new_object(SEND_CONNECTOR, {"Name": name, "AddressSpaces": space, "DNSRoutingEnabled": True})


def test_it_shows_the_console_tree_tabs_and_actions(admin_client, hub):
    page = text(admin_client.get("/", follow=True))
    for words in ("Microsoft Exchange", "Organization Configuration", "Hub Transport", "Server Configuration",
                  "Recipient Configuration", "Mailbox", "Toolbox", "Remote Domains", "Accepted Domains",
                  "Send Connectors", "Foreign Connectors", "Global Settings", "New Send Connector...", "Refresh"):
        assert words in page, words


def test_it_lists_send_connectors_with_the_emc_columns(admin_client, connectors):
    page = admin_client.get(SEND_CONNECTORS)
    content = text(page)
    assert "Name Status Address Spaces Source Servers" in content
    assert "Charlie Enabled SMTP:fabrikam.com;2 HUB01" in content
    assert names(page) == ["alpha", "Bravo", "Charlie"]


def test_it_sorts_by_a_column_both_ways(admin_client, connectors):
    assert names(admin_client.get(SEND_CONNECTORS + "?sort=Address+Spaces")) == ["alpha", "Bravo", "Charlie"]
    assert names(admin_client.get(SEND_CONNECTORS + "?sort=Name&dir=desc")) == ["Charlie", "Bravo", "alpha"]


def test_it_filters_on_any_column(admin_client, connectors):
    assert names(admin_client.get(SEND_CONNECTORS + "?q=fabrikam")) == ["Charlie"]
    assert "There are no items to show in this view." in text(admin_client.get(SEND_CONNECTORS + "?q=nothing"))


def test_it_serves_only_the_list_to_an_htmx_filter(admin_client, connectors):
    page = admin_client.get(SEND_CONNECTORS + "?q=bravo", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="result-list")
    content = page.content.decode()
    assert content.lstrip().startswith('<div id="result-list"') and "Microsoft Exchange" not in content
    assert names(page) == ["Bravo"]
    assert "HX-Request" in page["Vary"]


def test_it_serves_the_console_without_the_page_to_an_htmx_navigation(admin_client, connectors):
    page = admin_client.get("/console/organization/hub-transport/accepted-domains/", HTTP_HX_REQUEST="true",
                            HTTP_HX_TARGET="console")
    content = page.content.decode()
    assert content.lstrip().startswith('<div id="console"') and "<html" not in content
    assert "contoso.com" in text(page)


def test_it_shows_a_servers_receive_connectors_in_the_lower_pane(admin_client, second_hub):
    page = text(admin_client.get("/console/servers/hub-transport/HUB02/"))
    assert "Receive Connectors (HUB02)" in page
    assert "Default HUB02 Enabled 0.0.0.0:3025 0.0.0.0-255.255.255.255" in page
    assert "Default HUB01 Enabled" not in page
    assert "New Receive Connector..." in page


def test_it_shows_the_global_settings_mailboxes_and_toolbox(admin_client, hub):
    assert "Transport Settings 10 MB" in text(admin_client.get("/console/organization/hub-transport/global-settings/"))
    assert "Display Name Primary SMTP Address" in text(admin_client.get("/console/recipients/mailbox/"))
    assert admin_client.get("/console/toolbox/").status_code == 200


@pytest.mark.parametrize("url", [SEND_CONNECTORS, "/console/servers/hub-transport/", "/console/recipients/mailbox/",
                                 "/console/toolbox/", "/console/organization/hub-transport/remote-domains/"])
def test_it_requires_login_and_get(client, admin_client, hub, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/login/")
    assert admin_client.post(url).status_code == 405


def test_unknown_tabs_and_servers_are_not_found(admin_client, hub):
    assert admin_client.get("/console/organization/hub-transport/nothing/").status_code == 404
    assert admin_client.get("/console/servers/hub-transport/NOPE/").status_code == 404


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_lists_use_a_constant_number_of_queries(admin_client, hub):
    servers = [hub]
    small = {url: queries(admin_client, url) for url in (SEND_CONNECTORS, "/console/servers/hub-transport/HUB01/")}
    add_send_connectors(1, servers)
    small[SEND_CONNECTORS] = queries(admin_client, SEND_CONNECTORS)

    servers = add_hub_servers(100)
    add_send_connectors(999, servers, first=1)
    large = {url: queries(admin_client, url) for url in small}
    assert large == small
    page = admin_client.get(SEND_CONNECTORS)
    assert len(names(page)) == PAGE_ROWS and "1000 objects" in text(page)
    assert admin_client.get("/console/servers/hub-transport/HUB01/").content.decode().count(
        "<td>Hub Transport</td>") == 101


def test_a_history_restore_gets_the_whole_page(admin_client, hub):
    page = admin_client.get(SEND_CONNECTORS, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in page.content.decode() and 'id="console"' in page.content.decode()


def test_the_server_list_filters_and_sorts(admin_client, hub):
    from exchange_console.organization import setup

    for name in ("HUB03", "HUB02"):
        setup.install_transport_server(name, f"{name.lower()}.fabrikam.com", "Default-First-Site-Name",
                                       smtp_port=4025, submission_port=4587)
    page = admin_client.get("/console/servers/hub-transport/HUB01/", {"servers_sort": "-Name"}).content.decode()
    assert page.index(">HUB03<") < page.index(">HUB02<") < page.index(">HUB01<")
    assert 'servers_sort=Name">Name</a>' in page   # clicking again sorts ascending
    filtered = admin_client.get("/console/servers/hub-transport/HUB01/", {"servers_q": "fabrikam"}).content.decode()
    assert ">HUB02<" in filtered and ">HUB03<" in filtered and 'data-name="HUB01"' not in filtered
