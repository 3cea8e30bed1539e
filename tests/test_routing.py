"""What becomes of a recipient (local mailbox, NDR, a send connector, unreachable) and send connector selection
(docs/exchange-behaviour.md "Choosing a send connector"), as tables over snapshot dataclasses."""
from datetime import timedelta
from pathlib import Path

import pytest

from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, SEND_CONNECTOR
from exchange_console.lib.domains import parse_address_space
from exchange_console.organization.models import DomainType
from exchange_console.organization.schemas import SITE
from exchange_console.organization import setup
from exchange_console.services import new_object
from transport.logs.tracking import TrackingSettings
from transport.routing import FAIL, LOCAL, ROUTE, TOO_BIG, UNREACHABLE, accepted_domain_type, choose_connector, decide
from transport.snapshot import (
    ForeignConnectorConfig, ProtocolLogSettings, SendConnectorConfig, SendServerConfig, SendSnapshot,
    build_send_snapshot,
)

SITES = {"HUB01": "Site-A", "HUB02": "Site-A", "HUB03": "Site-B"}
MB = 1024 * 1024


def send(name, spaces, sources=("HUB01",), enabled=True, scoped=False, max_size=10 * MB, domain_secure=False):
    return SendConnectorConfig(
        name=name, address_spaces=tuple(parse_address_space(s) for s in spaces), enabled=enabled,
        is_scoped_connector=scoped, source_transport_servers=tuple(sources), max_message_size=max_size,
        dns_routing_enabled=True, use_external_dns_servers_enabled=False, smart_hosts=(),
        smart_host_auth_mechanism="None", authentication_credential=None, port=25, fqdn="hub01.contoso.com",
        connection_inactivity_timeout=timedelta(minutes=10), protocol_logging_level="None", require_tls=False,
        ignore_starttls=False, tls_auth_level=None, tls_domain="", domain_secure_enabled=domain_secure,
        force_helo=False, smtp_max_messages_per_connection=20)


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


# --- the decision for one recipient ----------------------------------------------------------------------

ACCEPTED_DOMAINS = (("contoso.com", DomainType.AUTHORITATIVE), ("*.contoso.com", DomainType.INTERNAL_RELAY),
                    ("fabrikam.com", DomainType.INTERNAL_RELAY), ("partner.example", DomainType.EXTERNAL_RELAY))
MAILBOXES = ("alice@contoso.com", "bob@fabrikam.com")
NOT_FOUND = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
TOO_BIG_FOR_ROUTE = "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route"


def configuration(connectors, domain_secure=()):
    """HUB01's send side with Exchange 2010's defaults, ACCEPTED_DOMAINS, MAILBOXES and `connectors`."""
    server = SendServerConfig(
        name="HUB01", fqdn="hub01.contoso.com", site="Site-A", transient_failure_retry_count=6,
        transient_failure_retry_interval=timedelta(minutes=5),
        outbound_connection_failure_retry_interval=timedelta(minutes=10), message_retry_interval=timedelta(minutes=1),
        delay_notification_timeout=timedelta(hours=4), message_expiration_timeout=timedelta(days=2),
        max_outbound_connections=1000, max_per_domain_outbound_connections=20, internal_dns_servers=(),
        external_dns_servers=(), drop_root=Path("TransportRoles/Drop"), data_dir=Path("HUB01"),
        send_protocol_log=ProtocolLogSettings(Path("SendProtocolLog"), 10 * MB, timedelta(days=30), 250 * MB),
        tracking=TrackingSettings(enabled=False, directory=Path("MessageTracking")))
    return SendSnapshot(
        server=server, server_sites=SITES,
        send_connectors=tuple(c for c in connectors if not c.is_foreign),
        foreign_connectors=tuple(c for c in connectors if c.is_foreign),
        accepted_domains=ACCEPTED_DOMAINS, remote_domains=(("*", True),), mailboxes=frozenset(MAILBOXES),
        max_recipient_envelope_limit=5000, postmaster_address="postmaster@contoso.com",
        tls_send_domain_secure_list=frozenset(domain_secure), certificate_pem=b"", private_key_pem=b"",
        trusted_roots_pem=b"")


def outcome(decision):
    """(kind, the connector's name, the NDR's diagnostic): what the queue viewer and the NDR would show."""
    return (decision.kind, decision.connector.name if decision.connector else None,
            decision.report.diagnostic if decision.report else None)


ROUTES = configuration([send("Internet", ["*;10"]), send("Fabrikam", ["fabrikam.com;1"], max_size=None)])


@pytest.mark.parametrize("address, size, expected", [
    ("alice@contoso.com", 1000, (LOCAL, None, None)),                  # Authoritative: the mailbox here
    ("Alice@CONTOSO.com", 1000, (LOCAL, None, None)),
    ("alice@contoso.com", 50 * MB, (LOCAL, None, None)),               # no send connector's size applies
    ("nobody@contoso.com", 1000, (FAIL, None, NOT_FOUND)),             # never routed, although '*' matches
    ("bob@fabrikam.com", 1000, (LOCAL, None, None)),                   # InternalRelay with a mailbox here
    ("carol@fabrikam.com", 1000, (ROUTE, "Fabrikam", None)),           # InternalRelay without one: routed
    ("carol@sales.contoso.com", 1000, (ROUTE, "Internet", None)),      # InternalRelay by '*.contoso.com'
    ("x@partner.example", 1000, (ROUTE, "Internet", None)),            # ExternalRelay: always routed
    ("x@example.net", 1000, (ROUTE, "Internet", None)),
    ("x@example.net", 11 * MB, (FAIL, None, TOO_BIG_FOR_ROUTE)),       # over the Internet connector's 10 MB
    ("carol@fabrikam.com", 11 * MB, (ROUTE, "Fabrikam", None)),        # unlimited MaxMessageSize
])
def test_each_recipient_is_delivered_here_failed_or_routed(address, size, expected):
    assert outcome(decide(ROUTES, address, size)) == expected


def test_a_recipient_that_no_address_space_matches_is_unreachable():
    fabrikam_only = configuration([send("Fabrikam", ["fabrikam.com"]), foreign("Fax", ["fax.example"])])
    assert outcome(decide(fabrikam_only, "x@example.net", 1000)) == (UNREACHABLE, None, None)
    assert outcome(decide(fabrikam_only, "nobody@contoso.com", 1000)) == (FAIL, None, NOT_FOUND)


def test_a_failing_connector_hands_its_recipients_to_the_next_by_cost():
    failover = configuration([send("Primary", ["*;1"]), send("Backup", ["*;10"])])
    assert outcome(decide(failover, "x@example.net", 1000, unavailable={"Primary"})) == (ROUTE, "Backup", None)


@pytest.mark.parametrize("address, expected", [
    ("x@example.net", (ROUTE, "Partner", None)),          # the sending server chose it: not chosen again
    ("x@unrouted.example", (ROUTE, "Partner", None)),
    ("alice@contoso.com", (ROUTE, "Partner", None)),      # nor delivered here (a linked connector's mail)
    ("nobody@contoso.com", (ROUTE, "Partner", None)),
    ("bob@fabrikam.com", (ROUTE, "Partner", None)),
])
def test_a_message_transferred_for_a_connector_goes_out_through_it(address, expected):
    transfer = configuration([send("Internet", ["example.net;1"]), send("Partner", ["partner.example;5"])])
    assert outcome(decide(transfer, address, 1000, via_connector=transfer.connector("Partner"))) == expected


SECURE = configuration([send("Internet", ["*;1"]), send("Woodgrove", ["woodgrove.com;5"], domain_secure=True),
                        foreign("Drop", ["tailspin.com;1"])],
                       domain_secure=("woodgrove.com", "tailspin.com", "litware.com"))


@pytest.mark.parametrize("address, unavailable, expected", [
    ("x@woodgrove.com", set(), (ROUTE, "Woodgrove", None)),        # the cheaper '*' has no mutual TLS
    ("x@woodgrove.com", {"Woodgrove"}, (ROUTE, "Woodgrove", None)),   # and is no fail-over for it either
    ("x@WoodGrove.com", set(), (ROUTE, "Woodgrove", None)),
    ("x@litware.com", set(), (UNREACHABLE, None, None)),            # '*' matches, but without DomainSecureEnabled
    ("x@tailspin.com", set(), (UNREACHABLE, None, None)),           # a foreign connector is never domain secured
    ("x@example.net", set(), (ROUTE, "Internet", None)),            # not in TLSSendDomainSecureList
])
def test_a_domain_secure_domain_goes_only_through_a_domain_secure_connector(address, unavailable, expected):
    assert outcome(decide(SECURE, address, 1000, unavailable)) == expected


@pytest.mark.parametrize("domain, expected", [
    ("contoso.com", DomainType.AUTHORITATIVE),
    ("CONTOSO.COM", DomainType.AUTHORITATIVE),
    ("sales.contoso.com", DomainType.INTERNAL_RELAY),   # the wildcard, where no exact name is more specific
    ("fabrikam.com", DomainType.INTERNAL_RELAY),
    ("eu.fabrikam.com", None),                          # a plain name covers no subdomain
    ("partner.example", DomainType.EXTERNAL_RELAY),
    ("example.net", None),
])
def test_the_most_specific_accepted_domain_gives_a_domains_type(domain, expected):
    assert accepted_domain_type(ROUTES, domain) == expected
