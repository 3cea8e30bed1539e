"""Routing between sites (Exchange 2010): least-cost paths over the site links, a connector's cost being its
address space's cost plus the path to its nearest source's site, sites out of reach, the links' size limits,
scoped connectors, hub sites, and the server a message is transferred to; as tables over snapshot dataclasses,
then from the configuration the shell saves."""
import pytest

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.lib.sitelinks import SiteRoute, least_cost_routes
from exchange_console.organization import setup
from exchange_console.services import new_object
from tests.shell_helpers import ems
from tests.test_routing import MB, send
from transport.routing import TOO_BIG, UNREACHABLE, choose_connector, transfer_target
from transport.snapshot import build_send_snapshot

# London -10- Paris -10- Rome; London -50- Rome; Oslo linked to nothing.
LINKS = [(("London", "Paris"), 10, None), (("Paris", "Rome"), 10, 20 * MB), (("London", "Rome"), 50, None)]
SERVERS = {"LON1": "London", "LON2": "London", "PAR1": "Paris", "ROM1": "Rome", "OSL1": "Oslo"}


@pytest.mark.parametrize("links, expected", [
    (LINKS, {"London": SiteRoute(0), "Paris": SiteRoute(10), "Rome": SiteRoute(20, 20 * MB)}),  # via Paris
    ([(("London", "Paris"), 10, None), (("Paris", "Rome"), 45, None), (("London", "Rome"), 50, None)],
     {"London": SiteRoute(0), "Paris": SiteRoute(10), "Rome": SiteRoute(50)}),       # the direct link is cheaper
    ([(("London", "Paris"), 10, None), (("Paris", "Rome"), 40, None), (("London", "Rome"), 50, 1 * MB)],
     {"London": SiteRoute(0), "Paris": SiteRoute(10), "Rome": SiteRoute(50, 1 * MB)}),  # equal cost: fewer hops
    ([(("London", "Paris", "Rome"), 100, None)],                                     # one link joins every pair
     {"London": SiteRoute(0), "Paris": SiteRoute(100), "Rome": SiteRoute(100)}),
    ([(("Paris", "Rome"), 10, None)], {"London": SiteRoute(0)}),                     # London linked to nothing
])
def test_the_least_cost_path_to_each_site_sums_its_links_costs(links, expected):
    assert least_cost_routes("London", links) == expected


def test_a_hub_site_on_the_path_is_where_the_mail_crossing_it_is_relayed():
    routes = least_cost_routes("London", LINKS, hub_sites={"Paris", "London"})
    assert [routes[site].hub_site for site in ("London", "Paris", "Rome")] == [None, None, "Paris"]


ROUTES = least_cost_routes("London", LINKS)


def choose(connectors, size=1000, server="LON1", routes=ROUTES, domain="fabrikam.com"):
    route = choose_connector(connectors, domain, size, server, SERVERS, site_routes=routes)
    return route.connector.name if route.connector else route.failure


@pytest.mark.parametrize("connectors, expected", [
    ([send("Paris", ["*;1"], sources=("PAR1",)), send("Rome", ["*;1"], sources=("ROM1",))], "Paris"),
    ([send("Paris", ["*;15"], sources=("PAR1",)), send("Rome", ["*;1"], sources=("ROM1",))], "Rome"),   # 25 > 21
    ([send("Rome", ["*;1"], sources=("ROM1", "PAR1"))], "Rome"),                   # its nearest source counts
    ([send("Local", ["*;30"], sources=("LON2",)), send("Paris", ["*;1"], sources=("PAR1",))], "Paris"),  # 11 < 30
    ([send("Paris", ["*;1"], sources=("PAR1",)), send("Local", ["*;11"], sources=("LON2",))], "Local"),  # then nearer
    ([send("Oslo", ["*;1"], sources=("OSL1",)), send("Rome", ["*;90"], sources=("ROM1",))], "Rome"),  # out of reach
    ([send("Oslo", ["*;1"], sources=("OSL1",))], UNREACHABLE),
    ([send("Oslo", ["*;1"], sources=("OSL1", "PAR1"))], "Oslo"),                   # reached through Paris
    ([send("Rome", ["fabrikam.com;100"], sources=("ROM1",)), send("Local", ["*;1"], sources=("LON1",))],
     "Rome"),                                                                     # specificity before cost
    ([send("Paris", ["*;1"], sources=("PAR1",), scoped=True), send("Rome", ["*;9"], sources=("ROM1",))],
     "Rome"),                                                                     # scoped to Paris's site
])
def test_a_connectors_cost_adds_the_path_to_its_nearest_source_site(connectors, expected):
    assert choose(connectors) == expected


@pytest.mark.parametrize("size, expected", [
    (10 * MB, "Rome"),
    (30 * MB, "Oslo Backup"),     # over the Paris-Rome link's 20 MB: the next candidate carries it
])
def test_a_site_links_max_message_size_limits_the_routes_across_it(size, expected):
    connectors = [send("Rome", ["*;1"], sources=("ROM1",), max_size=None),
                  send("Oslo Backup", ["*;50"], sources=("LON2",), max_size=None)]
    assert choose(connectors, size=size) == expected


def test_a_message_too_big_for_every_path_fails_at_once():
    assert choose([send("Rome", ["*;1"], sources=("ROM1",), max_size=None)], size=30 * MB) == TOO_BIG


def test_without_a_site_topology_every_site_is_reachable_at_no_cost():
    assert choose([send("Oslo", ["*;1"], sources=("OSL1",)), send("Rome", ["*;2"], sources=("ROM1",))],
                  routes=None) == "Oslo"


@pytest.mark.parametrize("sources, hub_sites, expected", [
    (("ROM1", "PAR1"), (), "PAR1"),                     # the source in the least-cost site
    (("LON2", "PAR1"), (), "LON2"),                     # this site first (cost 0)
    (("ROM1", "OSL1"), (), "ROM1"),                     # never one out of reach
    (("ROM1",), ("Paris",), "PAR1"),                    # the hub site on the way relays it
    (("PAR1",), ("Paris",), "PAR1"),                    # a hub site at the end relays nothing
])
def test_a_message_is_transferred_to_the_nearest_source_or_the_hub_site_on_the_way(sources, hub_sites, expected):
    routes = least_cost_routes("London", LINKS, set(hub_sites))
    assert transfer_target(send("Out", ["*"], sources=sources), SERVERS, routes) == expected


# --- from the configuration the shell saves --------------------------------------------------------------

@pytest.fixture
def two_sites(hub):
    """HUB01 in Default-First-Site-Name; HUB03 in Branch, joined through DEFAULTIPSITELINK (AD cost 100); an
    Internet connector in each site, Branch's at address space cost 1 and the main site's at 60."""
    ems("New-AdSite Branch")
    setup.install_transport_server("HUB03", "hub03.contoso.com", "Branch", smtp_port=30025, submission_port=30587)
    new_object(SEND_CONNECTOR, {"Name": "Branch Internet", "AddressSpaces": "*;1", "SourceTransportServers": ["HUB03"]})
    new_object(SEND_CONNECTOR, {"Name": "Main Internet", "AddressSpaces": "*;60", "SourceTransportServers": ["HUB01"]})


def chosen(server):
    snapshot = build_send_snapshot(server)
    return choose_connector(snapshot.connectors, "fabrikam.com", 1000, server, snapshot.server_sites,
                            site_routes=snapshot.site_routes).connector.name


def test_a_new_site_joins_the_default_site_link_and_exchange_cost_overrides_its_cost(two_sites):
    assert build_send_snapshot("HUB01").site_routes["Branch"] == SiteRoute(100)
    assert chosen("HUB01") == "Main Internet"            # 60 < 1 + 100
    assert chosen("HUB03") == "Branch Internet"
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 10")
    assert chosen("HUB01") == "Branch Internet"          # 1 + 10 < 60
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost $null")
    assert chosen("HUB01") == "Main Internet"


def test_a_site_on_no_link_with_this_one_is_out_of_reach(hub):
    ems("New-AdSite Island -SiteLinks $null")
    setup.install_transport_server("HUB04", "hub04.contoso.com", "Island", smtp_port=40025, submission_port=40587)
    new_object(SEND_CONNECTOR, {"Name": "Island Internet", "AddressSpaces": "*;1", "SourceTransportServers": ["HUB04"]})
    snapshot = build_send_snapshot("HUB01")
    route = choose_connector(snapshot.connectors, "fabrikam.com", 1000, "HUB01", snapshot.server_sites,
                             site_routes=snapshot.site_routes)
    assert (route.connector, route.failure) == (None, UNREACHABLE)
    ems("New-AdSiteLink Bridge -Sites Island,Default-First-Site-Name -ADCost 5")
    assert chosen("HUB01") == "Island Internet"


def test_mail_for_a_site_beyond_a_hub_site_is_handed_to_the_hub_site_first(hub):
    """Main -10- Hub -10- Far (and Main -50- Far): with HubSiteEnabled, the Hub site's server relays."""
    ems("New-AdSite Hub -SiteLinks $null\nNew-AdSite Far -SiteLinks $null\n"
        "New-AdSiteLink Main-Hub -Sites Default-First-Site-Name,Hub -ADCost 10\n"
        "New-AdSiteLink Hub-Far -Sites Hub,Far -ADCost 10\n"
        "New-AdSiteLink Main-Far -Sites Default-First-Site-Name,Far -ADCost 50")
    setup.install_transport_server("HUB05", "hub05.contoso.com", "Hub", smtp_port=50025, submission_port=50587)
    setup.install_transport_server("HUB06", "hub06.contoso.com", "Far", smtp_port=60025, submission_port=60587)
    new_object(SEND_CONNECTOR, {"Name": "Far Internet", "AddressSpaces": "*", "SourceTransportServers": ["HUB06"]})
    assert target_from("HUB01") == "HUB06"
    ems("Set-AdSite Hub -HubSiteEnabled $true")
    assert target_from("HUB01") == "HUB05"
    assert target_from("HUB05") == "HUB06"     # which hands it on to the connector's source


def target_from(server):
    snapshot = build_send_snapshot(server)
    return transfer_target(snapshot.connector("Far Internet"), snapshot.server_sites, snapshot.site_routes)
