"""Send connector selection (docs/exchange-behaviour.md "Choosing a send connector"), as tables over snapshot
dataclasses."""
from datetime import timedelta

import pytest

from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, SEND_CONNECTOR
from exchange_console.lib.domains import parse_address_space
from exchange_console.organization.schemas import SITE
from exchange_console.organization import setup
from exchange_console.services import new_object
from transport.routing import TOO_BIG, UNREACHABLE, choose_connector
from transport.snapshot import ForeignConnectorConfig, SendConnectorConfig, build_send_snapshot

SITES = {"HUB01": "Site-A", "HUB02": "Site-A", "HUB03": "Site-B"}
MB = 1024 * 1024


def send(name, spaces, sources=("HUB01",), enabled=True, scoped=False, max_size=10 * MB):
    return SendConnectorConfig(
        name=name, address_spaces=tuple(parse_address_space(s) for s in spaces), enabled=enabled,
        is_scoped_connector=scoped, source_transport_servers=tuple(sources), max_message_size=max_size,
        dns_routing_enabled=True, use_external_dns_servers_enabled=False, smart_hosts=(),
        smart_host_auth_mechanism="None", authentication_credential=None, port=25, fqdn="hub01.contoso.com",
        connection_inactivity_timeout=timedelta(minutes=10), protocol_logging_level="None", require_tls=False,
        ignore_starttls=False, tls_auth_level=None, tls_domain="", domain_secure_enabled=False, force_helo=False,
        smtp_max_messages_per_connection=20)


def foreign(name, spaces, sources=("HUB01",)):
    return ForeignConnectorConfig(
        name=name, address_spaces=tuple(parse_address_space(s) for s in spaces), enabled=True,
        is_scoped_connector=False, source_transport_servers=tuple(sources), max_message_size=None,
        drop_directory=name, drop_directory_quota=None)


SPECIFICITY = [send("Internet", ["*"]), send("Contoso", ["*.contoso.com"]),
               send("Marketing", ["marketing.contoso.com"]), send("Exact", ["fabrikam.com"])]


@pytest.mark.parametrize("domain, expected", [
    ("marketing.contoso.com", "Marketing"),
    ("sales.contoso.com", "Contoso"),
    ("contoso.com", "Contoso"),
    ("fabrikam.com", "Exact"),
    ("eu.fabrikam.com", "Internet"),   # plain fabrikam.com does not match subdomains
    ("example.org", "Internet"),
])
def test_it_prefers_the_most_specific_address_space(domain, expected):
    assert choose_connector(SPECIFICITY, domain, 1000, "HUB01", SITES).connector.name == expected


@pytest.mark.parametrize("connectors, expected", [
    ([send("Cheap", ["*;5"]), send("Dear", ["*;10"])], "Cheap"),
    ([send("B", ["*;1"], sources=("HUB03",)), send("A", ["*;1"], sources=("HUB02",))], "A"),  # same site first
    ([send("B", ["*;1"], sources=("HUB01",)), send("A", ["*;1"], sources=("HUB02",))], "B"),  # this server first
    ([send("Zulu", ["*;1"]), send("Alpha", ["*;1"])], "Alpha"),                                # then the name
    ([send("Cheap", ["*;1"], enabled=False), send("Dear", ["*;10"])], "Dear"),                 # disabled dropped
    ([send("Scoped", ["*;1"], sources=("HUB03",), scoped=True), send("Open", ["*;50"])], "Open"),
    ([send("Scoped", ["*;1"], sources=("HUB02",), scoped=True), send("Open", ["*;50"])], "Scoped"),
    ([send("Small", ["*;1"], max_size=64 * 1024), send("Large", ["*;9"])], "Large"),           # size filter
    ([send("Unlimited", ["*;9"], max_size=None), send("Small", ["*;1"], max_size=1024)], "Unlimited"),
    ([send("Exchange", ["*;5"]), foreign("Fax", ["*;2"])], "Fax"),                            # foreign take part
    ([send("Two", ["*.contoso.com;9", "*;1"]), send("One", ["*.contoso.com;3"])], "One"),     # cost of the match
])
def test_it_breaks_ties_by_cost_then_proximity_then_name(connectors, expected):
    assert choose_connector(connectors, "sales.contoso.com", 100 * 1024, "HUB01", SITES).connector.name == expected


def test_it_sends_recipients_without_a_matching_space_to_unreachable():
    route = choose_connector([send("Contoso", ["contoso.com"]), foreign("X400", ["X400:c=us;1"])],
                             "fabrikam.com", 10, "HUB01", SITES)
    assert (route.connector, route.failure) == (None, UNREACHABLE)


def test_it_fails_at_once_when_the_message_is_too_big_for_every_connector():
    connectors = [send("A", ["*"], max_size=1 * MB), send("B", ["fabrikam.com"], max_size=2 * MB)]
    route = choose_connector(connectors, "fabrikam.com", 3 * MB, "HUB01", SITES)
    assert (route.connector, route.failure) == (None, TOO_BIG)


def test_it_fails_over_to_the_next_connector_by_cost_while_the_first_cannot_connect():
    connectors = [send("Primary", ["*;1"]), send("Backup", ["*;10"]), send("Last", ["*;20"])]
    pick = lambda down: choose_connector(connectors, "fabrikam.com", 10, "HUB01", SITES, down).connector.name
    assert pick(frozenset()) == "Primary"
    assert pick({"Primary"}) == "Backup"
    assert pick({"Primary", "Backup"}) == "Last"
    assert pick({"Primary", "Backup", "Last"}) == "Primary"  # nothing better: queue on the best and retry


def test_it_routes_from_the_configuration_saved_through_the_console(hub, second_hub):
    new_object(SITE, {"Name": "Branch"})
    setup.install_transport_server("HUB03", "hub03.contoso.com", "Branch", smtp_port=30025, submission_port=30587)
    new_object(SEND_CONNECTOR, {"Name": "Branch Internet", "AddressSpaces": "*;1", "SourceTransportServers": ["HUB03"],
                                "IsScopedConnector": True})
    new_object(SEND_CONNECTOR, {"Name": "Internet", "AddressSpaces": "*;5", "SourceTransportServers": ["HUB02"]})
    new_object(FOREIGN_CONNECTOR, {"Name": "Fax Gateway", "AddressSpaces": "fax.contoso.com;1"})

    snapshot = build_send_snapshot("HUB01")
    route = lambda domain: choose_connector(snapshot.connectors, domain, 1000, "HUB01", snapshot.server_sites)
    assert route("fabrikam.com").connector.name == "Internet"
    assert route("fax.contoso.com").connector.name == "Fax Gateway"
    branch = build_send_snapshot("HUB03")
    assert choose_connector(branch.connectors, "fabrikam.com", 1000, "HUB03",
                            branch.server_sites).connector.name == "Branch Internet"
