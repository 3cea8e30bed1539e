"""What becomes of a recipient (decide), which send, foreign or routing group connector carries it (choose_connector;
docs/exchange-behaviour.md "Choosing a send connector"), and the server a message for a connector of other
servers is transferred to (transfer_target), over the least-cost paths between sites (lib/sitelinks.py).

Pure functions over the configuration's dataclasses: no ORM, no I/O, so every rule is tested by tables.
"""
from dataclasses import dataclass

from exchange_console.lib.domains import most_specific
from exchange_console.lib.sitelinks import SiteRoute
from exchange_console.organization.models import DomainType
from transport.dsn import RecipientReport

UNREACHABLE, TOO_BIG = "Unreachable", "TooBig"
LOCAL, FAIL, ROUTE = "local", "fail", "route"
NOT_FOUND = RecipientReport("", "5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
TOO_BIG_FOR_ROUTE = RecipientReport(
    "", "5.3.4", "550 5.3.4 ROUTING.SizeLimit; message size exceeds fixed maximum size for route")


@dataclass(frozen=True)
class LegacyRoutingGroup:
    """Where mail for a mailbox on an Exchange 2003 server goes: its routing group, reached over the routing group
    connectors that target it (Cost, then as send connectors), whatever the recipient's domain."""
    name: str

    def __str__(self):
        return f"routing group {self.name}"


@dataclass(frozen=True)
class Decision:
    """LOCAL (a mailbox here), FAIL (with the report for the NDR), ROUTE (to `connector`) or UNREACHABLE."""
    kind: str
    connector: object = None
    report: RecipientReport = None


def accepted_domain_type(configuration, domain):
    """The DomainType of the most specific accepted domain matching `domain`, None when none does."""
    found = most_specific(configuration.accepted_domains, domain)
    return found[1] if found else None


def decide(configuration, address, size, unavailable=frozenset(), via_connector=None):
    """The decision for one recipient. `via_connector`: the connector is chosen already (by the server that
    transferred the message, or by the linked receive connector it arrived on), and nothing else is
    considered. Otherwise: authoritative domain: the mailbox, or 5.1.1; InternalRelay: the mailbox if there
    is one, else routed; every other domain: routed."""
    if via_connector is not None:
        return Decision(ROUTE, connector=via_connector)
    domain = address.rpartition("@")[2].lower()
    if isinstance(destination := destination_of(configuration, address), LegacyRoutingGroup):
        return _routed(configuration, destination, size, unavailable)
    # An Edge delivers to no mailbox: its accepted domains are routed, to the Hubs (the `--` address space).
    domain_type = accepted_domain_type(configuration, domain) if configuration.delivers_to_mailboxes else None
    if domain_type == DomainType.AUTHORITATIVE:
        return Decision(LOCAL) if address.lower() in configuration.mailboxes else Decision(FAIL, report=NOT_FOUND)
    if domain_type == DomainType.INTERNAL_RELAY and address.lower() in configuration.mailboxes:
        return Decision(LOCAL)
    return _routed(configuration, domain, size, unavailable)


def destination_of(configuration, address):
    """What a routed recipient is routed to: the routing group of the legacy server its mailbox is on, or else
    its domain (lower case)."""
    group = (configuration.legacy_mailboxes or {}).get(address.lower())
    if group and configuration.delivers_to_mailboxes:
        return LegacyRoutingGroup(group)
    return address.rpartition("@")[2].lower()


def _routed(configuration, destination, size, unavailable):
    """The decision for a recipient routed to `destination` (a domain, or a legacy routing group)."""
    route = choose_connector(configuration.connectors, destination, size, configuration.server.name,
                             configuration.server_sites, unavailable,
                             domain_secure=destination in configuration.tls_send_domain_secure_list,
                             site_routes=configuration.site_routes)
    if route.connector is not None:
        return Decision(ROUTE, connector=route.connector)
    if route.failure == TOO_BIG:
        return Decision(FAIL, report=TOO_BIG_FOR_ROUTE)
    return Decision(UNREACHABLE)


@dataclass(frozen=True)
class Route:
    """The chosen connector, or why there is none (UNREACHABLE: no address space matches; TOO_BIG: every
    matching connector's MaxMessageSize is below the message)."""
    connector: object = None
    failure: str = None


def choose_connector(connectors, domain, size, server_name, server_sites, unavailable=frozenset(),
                     domain_secure=False, site_routes=None):
    """The connector for `domain` as the router of `server_name` sees it.

    `server_sites` maps every transport server to its site. `site_routes` maps each site reachable from this
    server's site to its SiteRoute (least_cost_routes); a connector whose source servers are all in sites out
    of reach is no candidate, and a route's cost is its address space's cost plus the cost of the path to the
    nearest source's site (Exchange 2010). None: no site topology is given, every site is reachable at no cost.
    `unavailable` holds names of connectors whose every host has been failing to connect for this domain: the
    next matching connector by cost carries the mail until they recover (beyond Exchange, which would queue).
    If all candidates are unavailable the best one is kept, so mail queues there and retries. `domain_secure`:
    the domain is in TLSSendDomainSecureList, so only connectors with DomainSecureEnabled are candidates:
    neither routing nor failover ever hands its mail to a connector without mutual TLS (with none matching,
    it is unreachable).
    """
    evaluated = candidates(connectors, domain, size, server_name, server_sites, domain_secure, site_routes)
    if not any(candidate.matches for candidate in evaluated):
        return Route(failure=UNREACHABLE)
    fitting = [candidate for candidate in evaluated if candidate.usable]
    if not fitting:
        return Route(failure=TOO_BIG)
    available = [candidate for candidate in fitting if candidate.connector.name not in unavailable]
    return Route(connector=(available or fitting)[0].connector)


@dataclass(frozen=True)
class Candidate:
    """What routing makes of one connector for one domain: `excluded` says why it can't carry the mail ('' when it
    can), `too_big` that only the message's size stands in its way; for those that match, the sort key: address
    space specificity (higher first), cost (address space + site path), proximity of its sources, name."""
    connector: object
    excluded: str = ""
    too_big: bool = False
    rank: int = None
    cost: int = None
    proximity: int = None

    @property
    def matches(self):
        return not self.excluded or self.too_big

    @property
    def usable(self):
        return not self.excluded

    @property
    def key(self):
        return (-self.rank, self.cost, self.proximity, self.connector.name.lower())


def candidates(connectors, domain, size, server_name, server_sites, domain_secure=False, site_routes=None):
    """Every connector as routing sees it for `domain` from `server_name`: the usable ones first, best first (the
    order choose_connector takes them in), then the others with why not. Get-MailRoute shows this list."""
    site = server_sites.get(server_name)
    evaluated = [_evaluate(connector, domain, size, server_name, site, server_sites, domain_secure, site_routes)
                 for connector in connectors]
    usable = sorted((candidate for candidate in evaluated if candidate.usable), key=lambda c: c.key)
    return usable + [candidate for candidate in evaluated if not candidate.usable]


def _evaluate(connector, domain, size, server_name, site, server_sites, domain_secure, site_routes):
    route = _nearest_source_route(connector, server_sites, site_routes)
    if not connector.enabled:
        return Candidate(connector, "disabled")
    if _scoped_elsewhere(connector, site, server_sites):
        return Candidate(connector, "scoped (IsScopedConnector) to the site of its source servers, not this one")
    if route is None:
        return Candidate(connector, "no site link leads to the sites of its source servers")
    if domain_secure and not _domain_secured(connector):
        return Candidate(connector, f"{domain} is in TLSSendDomainSecureList and it has no DomainSecureEnabled")
    rank, cost = _match(connector, domain)
    if rank is None:
        if isinstance(domain, LegacyRoutingGroup):
            return Candidate(connector, f"it doesn't lead to {domain}")
        return Candidate(connector, f"no address space matches {domain}")
    ordering = {"rank": rank, "cost": cost + route.cost,
                "proximity": _proximity(connector, server_name, site, server_sites)}
    if not _fits(size, connector.max_message_size):
        return Candidate(connector, f"its MaxMessageSize ({connector.max_message_size} bytes) is below the "
                                    f"message ({size} bytes)", too_big=True, **ordering)
    if not _fits(size, route.max_message_size):
        return Candidate(connector, f"a site link on the way carries at most {route.max_message_size} bytes",
                         too_big=True, **ordering)
    return Candidate(connector, **ordering)


def transfer_target(connector, server_sites, site_routes=None):
    """The server a message for a connector of other servers is handed to: its source server in the
    least-cost site (then by name); if the path there crosses a hub site, a server of that hub site relays
    it first (it routes the message on from there)."""
    routes = {name: _site_route(server_sites.get(name), site_routes) for name in connector.source_transport_servers}
    reachable = [name for name, route in routes.items() if route is not None] or list(routes)
    target = min(reachable, key=lambda name: (routes[name].cost if routes[name] else 0, name))
    hub_site = routes[target].hub_site if routes[target] else None
    relays = sorted(name for name, site in server_sites.items() if site == hub_site)
    return relays[0] if relays else target


def _site_route(site, site_routes):
    if site_routes is None:
        return SiteRoute(0)
    return site_routes.get(site)


def _nearest_source_route(connector, server_sites, site_routes):
    """The least-cost SiteRoute to a site of one of the connector's sources, None if none is reachable."""
    if site_routes is None:
        return SiteRoute(0)
    routes = [route for source in connector.source_transport_servers
              if (route := _site_route(server_sites.get(source), site_routes)) is not None]
    return min(routes, key=lambda route: route.cost, default=None)


def _fits(size, max_message_size):
    return max_message_size is None or size <= max_message_size


def _match(connector, destination):
    """(rank, cost) of the connector for a destination, (None, None) when it doesn't lead there: for a legacy
    routing group, the routing group connectors targeting it at their Cost; for a domain, the address spaces."""
    if isinstance(destination, LegacyRoutingGroup):
        if connector.target_routing_group.lower() != destination.name.lower():
            return None, None
        return 0, connector.cost
    rank = best_match(connector, destination)
    return rank, (None if rank is None else _cost(connector, destination))


def best_match(connector, domain):
    """The rank of the connector's most specific SMTP address space matching `domain`, None if none does."""
    ranks = [rank for space in connector.address_spaces if (rank := space.specificity(domain)) is not None]
    return max(ranks, default=None)


def _cost(connector, domain):
    """The cost of the address space that matched most specifically (the lowest cost among equals)."""
    top = best_match(connector, domain)
    return min(space.cost for space in connector.address_spaces if space.specificity(domain) == top)


def _domain_secured(connector):
    return not connector.is_foreign and connector.domain_secure_enabled


def _scoped_elsewhere(connector, site, server_sites):
    """A scoped connector is usable only by servers in the site of one of its source servers."""
    return connector.is_scoped_connector and all(
        server_sites.get(source) != site for source in connector.source_transport_servers)


def _proximity(connector, server_name, site, server_sites):
    """0: this server is a source; 1: a source in the same site; 2: sources only in other sites."""
    sources = connector.source_transport_servers
    if server_name in sources:
        return 0
    if any(server_sites.get(source) == site for source in sources):
        return 1
    return 2
