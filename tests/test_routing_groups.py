"""Routing to legacy (Exchange 2003) routing groups, as tables over snapshot dataclasses: a mailbox homed on a
legacy server goes over the least-cost routing group connector that targets its server's routing group (Cost,
then MaxMessageSize, then the nearest source, as send connectors), whatever its domain; and the send side a Hub
builds from the configuration."""
from dataclasses import replace

import pytest

from exchange_console.connectors.schemas import ROUTING_GROUP_CONNECTOR
from exchange_console.organization.schemas import LEGACY_EXCHANGE_SERVER, MAILBOX, ROUTING_GROUP
from exchange_console.services import new_object
from tests.test_routing import MB, configuration, outcome, send
from transport.categorizer import next_hops
from transport.routing import FAIL, LOCAL, ROUTE, UNREACHABLE, LegacyRoutingGroup, candidates, decide
from transport.snapshot import build_send_snapshot
from transport.queue.state import next_hop_of

FIRST, SECOND = "First Routing Group", "Second Routing Group"
TOO_BIG_FOR_ROUTE = "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route"


def rgc(name, target, cost=1, sources=("HUB01",), max_size=None, hosts=("ex2003.contoso.com",)):
    return replace(send(name, [], sources=sources, max_size=max_size), address_spaces=(), smart_hosts=hosts,
                   dns_routing_enabled=False, target_routing_group=target, cost=cost)


def legacy(connectors, mailboxes=None):
    routed = configuration(connectors)
    return replace(routed, send_connectors=(), routing_group_connectors=tuple(connectors),
                   legacy_mailboxes=mailboxes or {"lee@contoso.com": FIRST, "sam@contoso.com": SECOND})


@pytest.mark.parametrize("connectors, address, size, expected", [
    ([rgc("Cheap", FIRST, 1), rgc("Dear", FIRST, 10)], "lee@contoso.com", 1000, (ROUTE, "Cheap", None)),
    ([rgc("Dear", FIRST, 10), rgc("Cheap", FIRST, 5)], "lee@contoso.com", 1000, (ROUTE, "Cheap", None)),
    # The cheapest that takes the message's size.
    ([rgc("Cheap", FIRST, 1, max_size=MB), rgc("Dear", FIRST, 10)], "lee@contoso.com", 2 * MB,
     (ROUTE, "Dear", None)),
    ([rgc("Cheap", FIRST, 1, max_size=MB)], "lee@contoso.com", 2 * MB, (FAIL, None, TOO_BIG_FOR_ROUTE)),
    # Only connectors to the mailbox's server's routing group.
    ([rgc("To first", FIRST, 50), rgc("To second", SECOND, 1)], "lee@contoso.com", 1000, (ROUTE, "To first", None)),
    ([rgc("To first", FIRST, 50), rgc("To second", SECOND, 1)], "sam@contoso.com", 1000,
     (ROUTE, "To second", None)),
    ([rgc("To second", SECOND)], "lee@contoso.com", 1000, (UNREACHABLE, None, None)),
    # Equal cost: a connector this Hub is a source of before one of another Hub.
    ([rgc("Other hub", FIRST, 1, sources=("HUB02",)), rgc("This hub", FIRST, 1)], "lee@contoso.com", 1000,
     (ROUTE, "This hub", None)),
    # Exchange 2010's own mailboxes stay local; other domains ignore routing group connectors.
    ([rgc("Cheap", FIRST)], "alice@contoso.com", 1000, (LOCAL, None, None)),
    ([rgc("Cheap", FIRST)], "someone@example.org", 1000, (UNREACHABLE, None, None)),
])
def test_a_legacy_mailbox_goes_over_the_least_cost_routing_group_connector(connectors, address, size, expected):
    assert outcome(decide(legacy(connectors), address, size)) == expected


def test_a_send_connector_for_the_domain_does_not_take_a_legacy_mailboxs_mail():
    routed = replace(legacy([rgc("Interop", FIRST, 100)]), send_connectors=(send("Internet", ["*;1"]),))
    assert outcome(decide(routed, "lee@contoso.com", 1000)) == (ROUTE, "Interop", None)
    assert outcome(decide(routed, "x@example.org", 1000)) == (ROUTE, "Internet", None)


def test_candidates_say_why_a_connector_does_not_lead_there():
    found = candidates([rgc("To second", SECOND), send("Internet", ["*"])], LegacyRoutingGroup(FIRST), 1000,
                       "HUB01", {"HUB01": "Site-A"})
    assert [candidate.excluded for candidate in found] == [f"it doesn't lead to routing group {FIRST}"] * 2


def test_the_next_hop_is_the_target_bridgeheads():
    assert next_hop_of(rgc("Interop", FIRST, hosts=("ex2003.contoso.com", "ex2003b.contoso.com")),
                       "contoso.com")[1] == "ex2003.contoso.com,ex2003b.contoso.com"


def test_a_hub_sees_routing_group_connectors_to_legacy_groups_as_connectors_to_their_bridgeheads(hub):
    new_object(ROUTING_GROUP, {"Name": FIRST})
    new_object(LEGACY_EXCHANGE_SERVER, {"Name": "EX2003", "Fqdn": "ex2003.contoso.com", "RoutingGroup": FIRST,
                                        "Port": 2525})
    new_object(MAILBOX, {"Name": "Lee", "PrimarySmtpAddress": "Lee@contoso.com", "Password": "P@ssw0rd!",
                         "Database": "EX2003\\First Storage Group\\Mailbox Store (EX2003)"})
    new_object(ROUTING_GROUP_CONNECTOR, {"Name": "Interop", "SourceTransportServers": "HUB01",
                                         "TargetTransportServers": "EX2003", "Cost": 7, "MaxMessageSize": "20MB"})
    new_object(ROUTING_GROUP_CONNECTOR, {"Name": "Interop", "SourceTransportServers": "EX2003",
                                         "TargetTransportServers": "HUB01"})   # the other direction: not ours to run
    snapshot = build_send_snapshot("HUB01")
    assert snapshot.legacy_mailboxes == {"lee@contoso.com": FIRST}
    [connector] = snapshot.routing_group_connectors
    assert (connector.name, connector.smart_hosts, connector.port, connector.cost, connector.max_message_size,
            connector.target_routing_group, connector.source_transport_servers) == (
        "Exchange Routing Group (DWBGZMFD01QNBJR)\\Interop", ("ex2003.contoso.com",), 2525, 7, 20 * MB, FIRST,
        ("HUB01",))
    assert snapshot.connector(connector.name) is connector
    assert outcome(decide(snapshot, "lee@contoso.com", 1000)) == (ROUTE, connector.name, None)


def test_a_hub_that_isnt_a_source_server_hands_the_message_to_one():
    connector = rgc("Interop", FIRST, sources=("HUB03",))
    decisions = {"lee@contoso.com": decide(legacy([connector]), "lee@contoso.com", 1000)}
    assert next_hops("HUB01", decisions) == ({}, {connector: ["lee@contoso.com"]})
    assert next_hops("HUB03", decisions)[0] == {
        ("SmartHostConnectorDelivery", "ex2003.contoso.com", "Interop"): ["lee@contoso.com"]}
