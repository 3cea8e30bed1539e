"""Get-MailRoute: the path a message would take, hop by hop, explained (issue: mail-flow insight).

Each hop is what one server's transport would do with the recipient, computed by the transport's own code on
that server's configuration as the transport reads it (transport.snapshot.build_configuration, routing.decide,
routing.candidates, delivery's TLS policy): so the explanation and a real worker's decision can't disagree. A hop
lists every connector with why it won or lost, and the next hop: a mailbox, an NDR, the Unreachable queue,
another server of the organization (a transfer, an Edge over TLS, a smart host that is one of ours), or the
outside world (smart hosts or the domain's MX records)."""
from dataclasses import dataclass, field

from transport import routing
from transport.delivery.dns import PermanentRoutingError, TransientRoutingError, mx_hosts, resolver_for
from transport.delivery.smtp import tls_policy
from transport.queue import state
from transport.snapshot import build_configuration

MAX_HOPS = 10


@dataclass
class Hop:
    number: int
    server: str
    site: str
    action: str                                   # Deliver, NDR, Unreachable, Route, Transfer, Relay
    connector: str = ""
    candidates: list = field(default_factory=list)   # one line per connector
    next_hop: str = ""
    tls: str = ""
    result: str = ""


def explain(recipient, sender="", size=0, server=None, unavailable=frozenset(), resolve=True):
    """The hops for one recipient from `server` (default: the first Hub), as lists of Hop."""
    from exchange_console.organization.models import TransportServer

    name = server or TransportServer.objects.local().order_by("name").values_list("name", flat=True).first()
    hops, via, seen = [], None, set()
    for number in range(1, MAX_HOPS + 1):
        send = build_configuration(name).send
        hop = _hop(number, send, recipient, size, unavailable, via, resolve)
        hops.append(hop)
        following = _following(send, hop)
        if following is None:
            return hops
        if following in seen:
            hop.result = f"Routing loop: the message comes back to {following[0]} and would go round again."
            return hops
        seen.add(following)
        name, via = following
    hops[-1].result = f"More than {MAX_HOPS} hops: the hop count would stop the message."
    return hops


def _hop(number, send, recipient, size, assumed, via, resolve):
    server = send.server
    hop = Hop(number, server.name, server.site, "")
    domain = recipient.rpartition("@")[2].lower()
    via_connector = send.connector(via) if via else None
    # As the categorizer: connectors failing to connect now are passed over (and those assumed down).
    failing = state.failing_connectors(server.name, domain)
    decision = routing.decide(send, recipient, size, assumed | failing, via_connector)
    if via_connector is None and decision.kind in (routing.ROUTE, routing.UNREACHABLE, routing.FAIL):
        hop.candidates = [_describe(candidate, assumed, failing) for candidate in routing.candidates(
            send.connectors, routing.destination_of(send, recipient), size, server.name, send.server_sites,
            domain in send.tls_send_domain_secure_list, send.site_routes)]
    if decision.kind == routing.LOCAL:
        hop.action, hop.result = "Deliver", f"Delivered to the mailbox {recipient} (accepted domain {domain})."
    elif decision.kind == routing.FAIL:
        hop.action, hop.result = "NDR", f"Non-delivery report: {decision.report.diagnostic}"
    elif decision.kind == routing.UNREACHABLE:
        hop.action, hop.result = "Unreachable", (
            f"No connector of {server.name} can carry mail for {domain}: the Unreachable queue, until a route "
            "appears or the message expires.")
    else:
        _route(hop, send, decision.connector, domain, resolve, via_connector is not None)
    return hop


def _describe(candidate, assumed, failing):
    name = candidate.connector.name
    if candidate.excluded:
        return f"{name}: not a candidate: {candidate.excluded}"
    down = (" (assumed down: the next one by cost takes the mail)" if name in assumed else
            " (failing to connect now: the next one by cost takes the mail until it recovers)" if name in failing
            else "")
    return (f"{name}: candidate: address space specificity {candidate.rank}, cost {candidate.cost}, "
            f"proximity {candidate.proximity}{down}")


def _route(hop, send, connector, domain, resolve, chosen_before):
    server = send.server.name
    hop.connector = connector.name
    if chosen_before:
        hop.candidates = [f"{connector.name}: chosen by the server that handed the message on"]
    if server not in connector.source_transport_servers:
        target = routing.transfer_target(connector, send.server_sites, send.site_routes)
        hop.action, hop.next_hop = "Transfer", target
        hop.result = f"{server} isn't a source server of '{connector.name}': it hands the message to {target}."
        return
    if connector.is_foreign:
        hop.action, hop.next_hop = "Deliver", f"drop directory {connector.drop_directory}"
        hop.result = f"Written to the drop directory of the foreign connector '{connector.name}'."
        return
    policy = tls_policy(connector, domain, send)
    hop.tls = _tls(policy, connector)
    hop.action = "Relay" if connector.edge_relay else "Route"
    if connector.smart_hosts:
        hop.next_hop = ", ".join(f"{host}:{connector.port}" for host in connector.smart_hosts)
        where = (f"{', '.join(connector.peer_servers)} (the other side of the Edge subscription)"
                 if connector.edge_relay else f"smart host {hop.next_hop}")
        if connector.target_routing_group:
            where = f"the bridgeheads of the routing group {connector.target_routing_group}, {hop.next_hop}"
        hop.result = f"Sent by {server} through '{connector.name}' to {where}."
    else:
        hop.next_hop = _mx(send, connector, domain) if resolve else f"the MX records of {domain}"
        hop.result = f"Sent by {server} through '{connector.name}' by DNS to {hop.next_hop}."


def _tls(policy, connector):
    if policy.organization_peer:
        return ("Required; the certificate must be the one the Edge subscription exchanged (Direct Trust); this "
                "server presents its own (ExchangeServer authentication)")
    if not policy.required:
        return "Opportunistic (STARTTLS when offered)" if not policy.ignore_starttls else "None (IgnoreSTARTTLS)"
    checks = "the certificate must chain to a trusted root" if policy.verify_chain else "any certificate"
    if policy.certificate_name:
        checks += f" and name {policy.certificate_name}"
    mutual = "; mutual TLS (this server presents its certificate)" if policy.client_certificate else ""
    return f"Required ({connector.tls_auth_level or 'DomainSecure'}): {checks}{mutual}"


def _mx(send, connector, domain):
    resolver = resolver_for(send.server, connector)
    resolver.lifetime = 3
    try:
        hosts = mx_hosts(domain, resolver)
    except PermanentRoutingError as error:
        return f"none: {error.text} (NDR {error.code} {error.status})"
    except TransientRoutingError as error:
        return f"the MX records of {domain} (not resolved now: {error})"
    return ", ".join(f"{host.name} ({', '.join(host.addresses) or 'no address'})" for host in hosts) or (
        f"the MX records of {domain} (none with an address)")


def _following(send, hop):
    """(server, connector chosen already) where the message goes next inside the organization, or None."""
    if hop.action == "Transfer":
        return hop.next_hop, hop.connector
    connector = send.connector(hop.connector) if hop.connector else None
    if connector is None:
        return None
    if connector.edge_relay:
        return connector.peer_servers[0], None
    if hop.action == "Route" and connector.smart_hosts:
        from exchange_console.insight.checks import Organization, _reached

        reached = _reached(Organization(), connector)
        if reached is not None:
            server, receive_connector = reached
            linked = build_configuration(server).send.linked_connector(receive_connector.identity)
            hop.next_hop += f" ({receive_connector.identity}, one of the organization's receive connectors)"
            return server, linked.name if linked else None
    return None

