"""Checks before a change is saved (issue: mail-flow insight): the organization as it would be after the change,
evaluated with the transport's own configuration reader and routing rules, for what would break mail flow or
weaken it. The write path runs them inside the change's transaction, after the change and before the commit,
and reports only what the change brings (findings already there before it are not the change's doing).

ERROR findings would break mail flow or expose it (a routing loop, an open relay, a smart host that can't
authenticate as its connector requires): the change is refused unless forced (-Force, the console's
confirmation). WARNING findings are shown and the change goes on."""
import ipaddress
from dataclasses import dataclass

from transport import routing
from transport.receive import policy
from transport.snapshot import build_configuration

ERROR, WARNING = "Error", "Warning"
MAX_HOPS = 8
WIDE = 256   # more public addresses than a /24 is "the Internet" for a relay


@dataclass(frozen=True)
class Finding:
    severity: str
    parameter: str
    message: str

    def __str__(self):
        return f"{self.severity}: {self.message}"


class Organization:
    """Configurations of the servers running on this database, read on demand (each once) within one evaluation."""

    def __init__(self):
        from exchange_console.organization.models import TransportServer

        self.names = list(TransportServer.objects.local().values_list("name", flat=True))
        self._configurations = {}

    def configuration(self, name):
        if name not in self._configurations:
            self._configurations[name] = build_configuration(name)
        return self._configurations[name]

    def receive_connectors(self):
        return [(name, connector) for name in self.names
                for connector in self.configuration(name).receive.enabled_connectors()]


def evaluate(servers):
    """Findings for the given server names (the ones a change concerns) as the configuration stands now."""
    organization = Organization()
    servers = [name for name in servers if name in organization.names]
    findings = []
    for name in servers:
        configuration = organization.configuration(name)
        findings += open_relays(name, configuration.receive)
        findings += shared_bindings(organization, name)
        findings += smart_host_authentication(name, configuration.send)
        findings += domain_secure_fallbacks(name, configuration.send)
        findings += out_of_reach(organization, name)
        findings += routing_loops(organization, name)
    return list(dict.fromkeys(findings))


# --- Bindings and reach ----------------------------------------------------------------------------------------

def shared_bindings(organization, server):
    """An address and port that a receive connector of another server binds too: two servers on one machine
    can't both listen there (on two machines the address can't be both's)."""
    findings = []
    mine = {(str(binding.address), binding.port): connector.identity
            for connector in organization.configuration(server).receive.enabled_connectors()
            for binding in connector.bindings if not binding.is_all_addresses}
    for other, connector in organization.receive_connectors():
        if other == server:
            continue
        for binding in connector.bindings:
            key = (str(binding.address), binding.port)
            if key in mine:
                findings.append(Finding(WARNING, "Bindings", (
                    f"Receive connector '{mine[key]}' binds {key[0]}:{key[1]}, as '{connector.identity}' of {other} "
                    "does: two servers can't listen on one address and port.")))
    return findings


def out_of_reach(organization, server):
    """A connector of this server whose source servers the servers of another site can't reach (no site link
    leads there): mail for its address spaces from that site goes elsewhere or to the Unreachable queue."""
    findings = []
    send = organization.configuration(server).send
    others = {}
    for name in organization.names:
        site = send.server_sites.get(name)
        if site != send.server.site:
            others.setdefault(site, name)
    mine = [connector for connector in send.connectors if server in connector.source_transport_servers]
    for site, name in sorted(others.items()):
        theirs = organization.configuration(name).send
        for connector in mine:
            probe = next(iter(_probe_domains(connector)), None)
            if probe is None:
                continue
            [candidate] = [c for c in routing.candidates([theirs.connector(connector.name) or connector], probe, 1, name,
                                                         theirs.server_sites, site_routes=theirs.site_routes)]
            if candidate.excluded.startswith("no site link"):
                findings.append(Finding(WARNING, "SourceTransportServers", (
                    f"The servers of site {site} can't reach the source servers of '{connector.name}': no site link "
                    f"leads to {send.server.site}. Its address spaces are out of their reach.")))
    return findings


# --- Open relay ---------------------------------------------------------------------------------------------

def open_relays(server, receive):
    """A receive connector whose clients may relay (Accept-Any-Recipient) without authenticating, open to more
    of the Internet than a /24."""
    findings = []
    for connector in receive.enabled_connectors():
        principal = policy.EXCHANGE_SERVER if "ExternalAuthoritative" in connector.auth_mechanism else policy.ANONYMOUS
        if policy.ACCEPT_ANY_RECIPIENT not in policy.session_rights(connector, principal):
            continue
        public = sum(_public_addresses(ip_range) for ip_range in connector.remote_ip_ranges)
        if public > WIDE:
            findings.append(Finding(ERROR, "RemoteIPRanges", (
                f"Receive connector '{connector.identity}' lets clients that don't authenticate relay (Accept-Any-"
                f"Recipient, {'externally secured' if principal == policy.EXCHANGE_SERVER else 'anonymous'}) from "
                f"{public:,} public addresses ({', '.join(str(r) for r in connector.remote_ip_ranges)}): {server} "
                "would be an open relay. Restrict RemoteIPRanges to the hosts that must relay.")))
    return findings


def _public_addresses(ip_range):
    """How many addresses of the range are public (global): private, loopback and link-local ones aren't."""
    blocks = ipaddress.summarize_address_range(ip_range.first, ip_range.last)
    return sum(block.num_addresses for block in blocks if block.is_global)


# --- Smart hosts and their authentication --------------------------------------------------------------------

def smart_host_authentication(server, send):
    findings = []
    for connector in send.send_connectors:
        if server not in connector.source_transport_servers or not connector.smart_hosts or connector.edge_relay:
            continue
        mechanism = connector.smart_host_auth_mechanism
        if mechanism in ("BasicAuth", "BasicAuthRequireTLS") and not connector.authentication_credential:
            findings.append(Finding(ERROR, "AuthenticationCredential", (
                f"Send connector '{connector.name}' authenticates to its smart hosts with {mechanism} but has no "
                "AuthenticationCredential: every delivery would be refused.")))
        outside = [host for host in connector.smart_hosts if not _ours(send, host, connector.port)]
        if mechanism == "ExchangeServer" and outside:
            findings.append(Finding(WARNING, "SmartHostAuthMechanism", (
                f"Send connector '{connector.name}' authenticates as an Exchange server to {', '.join(outside)}, which "
                "isn't one of the organization's servers: only those accept that authentication.")))
    return findings


def _ours(send, host, port):
    name = host.strip("[]").lower()
    return name in send.organization_hosts or (name, port) in send.organization_bindings


# --- Domain security ----------------------------------------------------------------------------------------

def domain_secure_fallbacks(server, send):
    """A domain in TLSSendDomainSecureList that routing would otherwise give to a connector without
    DomainSecureEnabled (never taken: the mail waits or is unreachable instead), or that no domain-secured connector
    of this server's view matches at all."""
    findings = []
    for domain in sorted(send.tls_send_domain_secure_list):
        plain = _route(send, server, domain, domain_secure=False).connector
        secure = _route(send, server, domain, domain_secure=True).connector
        if secure is None:
            findings.append(Finding(WARNING, "TLSSendDomainSecureList", (
                f"Mail to {domain} (TLSSendDomainSecureList) has no send connector with DomainSecureEnabled "
                f"from {server}: it would stay in the Unreachable queue.")))
        elif plain is not None and plain.name != secure.name:
            findings.append(Finding(WARNING, "DomainSecureEnabled", (
                f"Mail to {domain} (TLSSendDomainSecureList) would be routed from {server} to '{plain.name}', which "
                f"has no DomainSecureEnabled; it goes only through '{secure.name}', and waits for it when it fails.")))
    return findings


def _route(send, server, domain, domain_secure):
    options = {"site_routes": send.site_routes} if hasattr(send, "site_routes") else {}
    return routing.choose_connector(send.connectors, domain, 1, server, send.server_sites,
                                    domain_secure=domain_secure, **options)


# --- Routing loops --------------------------------------------------------------------------------------------

def routing_loops(organization, server):
    """Follow the mail of each of the server's send connectors with smart hosts: when a smart host is one of the
    organization's own receive connectors, the mail comes back in there and is routed again (through the send
    connector linked to that receive connector, if any). Coming back to a connector already on the path is a loop."""
    findings = []
    send = organization.configuration(server).send
    for connector in send.send_connectors:
        if server not in connector.source_transport_servers or not connector.smart_hosts or not connector.enabled:
            continue
        for domain in _probe_domains(connector):
            loop = _follow(organization, server, connector, domain)
            if loop:
                findings.append(Finding(ERROR, "SmartHosts", (
                    f"Routing loop: mail for {domain} goes " + " -> ".join(loop) + ", and round again: no mail for "
                    "it would ever be delivered.")))
                break
    return findings


def _probe_domains(connector):
    """A recipient domain each SMTP address space stands for (`*` -> any domain, `*.x` -> a name under x)."""
    domains = []
    for space in connector.address_spaces:
        if not space.is_smtp or space.address == "--":
            continue
        address = space.address
        domains.append("example.invalid" if address == "*" else address.replace("*.", "mail.", 1))
    return domains


def _follow(organization, server, connector, domain):
    path, seen = [f"{server} '{connector.name}'"], {(server, connector.name)}
    for _ in range(MAX_HOPS):
        reached = _reached(organization, connector)
        if reached is None:
            return None
        server, receive_connector = reached
        send = organization.configuration(server).send
        linked = send.linked_connector(receive_connector.identity)
        decision = routing.decide(send, f"probe@{domain}", 1, via_connector=linked)
        if decision.kind != routing.ROUTE:
            return None
        connector = decision.connector
        step = f"{receive_connector.identity} -> '{connector.name}'"
        if (server, connector.name) in seen:
            return path + [step]
        seen.add((server, connector.name))
        path.append(step)
    return None


def _reached(organization, connector):
    """(server, receive connector) of the organization that the connector's first smart host is, or None."""
    host = connector.smart_hosts[0].strip("[]").lower()
    for server, receive in organization.receive_connectors():
        for binding in receive.bindings:
            if binding.port != connector.port:
                continue
            if str(binding.address) == host or (
                    host in (receive.fqdn.lower(), organization.configuration(server).receive.fqdn.lower())):
                return server, receive
    return None


# --- Which servers a change concerns ---------------------------------------------------------------------------

def servers_concerned(schema, obj):
    """The servers whose view a change of `obj` may alter, for the checks: a receive connector's server, a
    connector's source servers, the server itself; for organization-wide objects one server per site (the
    servers of a site see the organization alike)."""
    from exchange_console.organization.models import TransportServer
    from exchange_console.schema import pending_refs

    noun = schema.noun
    if noun in ("ReceiveConnector", "ADPermission"):
        connector = obj if noun == "ReceiveConnector" else obj.connector
        return [connector.server.name] if connector.server_id else []
    if noun in ("SendConnector", "ForeignConnector"):
        return [server.name for server in pending_refs(obj, "source_transport_servers")]
    if noun == "TransportServer":
        return [obj.name]
    if noun in ("TransportConfig", "AcceptedDomain", "RemoteDomain"):
        first = {}
        for name, site in TransportServer.objects.local().values_list("name", "site_id"):
            first.setdefault(site, name)
        return list(first.values())
    return []
