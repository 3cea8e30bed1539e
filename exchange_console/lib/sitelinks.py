"""Active Directory sites and their IP site links: the least-cost path from one site to every other, as
Exchange 2010 routes mail between sites. Pure: the transport's snapshot computes it once per configuration."""
import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class SiteRoute:
    """The least-cost path from this server's site to one site: the sum of its site links' costs, the largest
    message all of them carry (None = unlimited), and the first hub site it crosses (None if none does)."""
    cost: int
    max_message_size: int = None
    hub_site: str = None


def least_cost_routes(origin, links, hub_sites=frozenset()):
    """{site: SiteRoute} for every site reachable from `origin` over the site links (the origin at cost 0).
    `links`: (sites, cost, max_message_size) per link, the cost being ExchangeCost if set, else the AD cost; a
    link joins every pair of its sites. Ties between paths of equal cost: fewer hops, then the site names.
    `hub_sites`: the sites with HubSiteEnabled (and servers to relay); one between the ends relays the mail."""
    neighbours = {}
    for sites, cost, max_size in links:
        for one in sites:
            neighbours.setdefault(one, []).extend((other, cost, max_size) for other in sites if other != one)
    routes, frontier = {}, [(0, 0, (origin,), None)]
    while frontier:
        cost, hops, path, max_size = heapq.heappop(frontier)
        if path[-1] in routes:
            continue
        routes[path[-1]] = SiteRoute(cost, max_size, next((s for s in path[1:-1] if s in hub_sites), None))
        for neighbour, link_cost, link_size in neighbours.get(path[-1], ()):
            if neighbour not in routes:
                heapq.heappush(frontier, (cost + link_cost, hops + 1, path + (neighbour,),
                                          _smaller(max_size, link_size)))
    return routes


def _smaller(size, other):
    """The smaller of two MaxMessageSize values, None being unlimited."""
    return other if size is None else size if other is None else min(size, other)
