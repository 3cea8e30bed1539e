"""Next-hop hosts by DNS (dnspython): MX records by preference, the A/AAAA fallback, null MX (RFC 7505),
smart hosts, and the DNS servers the transport server is configured with."""
import ipaddress
import random
import socket
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver


class PermanentRoutingError(Exception):
    """The domain can never be reached (no such domain, null MX): recipients get an NDR at once."""

    def __init__(self, code, status, text):
        self.code, self.status, self.text = code, status, text
        super().__init__(f"{code} {status} {text}")


class TransientRoutingError(Exception):
    """DNS did not answer well enough now: the queue retries."""


@dataclass(frozen=True)
class Host:
    name: str
    addresses: tuple


def resolver_for(server, connector):
    """The server's ExternalDNSServers when the connector says UseExternalDNSServersEnabled, else its
    InternalDNSServers; each 'ip' or 'ip:port'. Neither configured: the system's resolver."""
    servers = server.external_dns_servers if connector.use_external_dns_servers_enabled else server.internal_dns_servers
    if not servers:
        return SystemResolver()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(*_endpoint(text)) for text in servers]
    resolver.lifetime = 10
    return resolver


def _endpoint(text):
    """'192.0.2.1', '192.0.2.1:5353', '[2001:db8::1]:53' or '2001:db8::1' -> (address, port)."""
    text = text.strip()
    try:
        return str(ipaddress.ip_address(text.strip("[]"))), 53
    except ValueError:
        address, _, port = text.rpartition(":")
        return str(ipaddress.ip_address(address.strip("[]"))), int(port)


def mx_hosts(domain, resolver):
    """The hosts to try for a recipient domain, best MX preference first (equal preferences shuffled);
    a domain without MX records is its own host."""
    try:
        answer = resolver.resolve(domain, "MX")
        records = sorted(answer, key=lambda record: (record.preference, random.random()))
    except dns.resolver.NXDOMAIN:
        raise PermanentRoutingError(550, "5.4.4", f"Unable to route: the domain {domain} doesn't exist") from None
    except dns.resolver.NoAnswer:
        return [_host(domain, resolver)]
    except dns.exception.DNSException as error:
        raise TransientRoutingError(f"DNS query for {domain} MX failed: {error}") from None
    if len(records) == 1 and records[0].exchange == dns.name.root:
        raise PermanentRoutingError(556, "5.1.10", f"Domain {domain} does not accept mail (null MX)")
    hosts = [_host(record.exchange.to_text(omit_final_dot=True), resolver) for record in records
             if record.exchange != dns.name.root]
    return [host for host in hosts if host.addresses]


def smart_host_hosts(smart_hosts, resolver):
    """Smart hosts in their configured order: IP literals as they are, names through DNS."""
    hosts = []
    for smart_host in smart_hosts:
        literal = smart_host.strip("[]")
        try:
            hosts.append(Host(smart_host, (str(ipaddress.ip_address(literal)),)))
        except ValueError:
            hosts.append(_host(smart_host, resolver))
    return hosts


class SystemResolver(dns.resolver.Resolver):
    """The machine's own resolver, for a server configured with no DNS servers (Exchange's "use the network
    adapter's settings"): MX records from its name servers, host names as the system looks them up, so the hosts
    file counts, as it does on Windows."""


def _host(name, resolver):
    if isinstance(resolver, SystemResolver):
        return Host(name, _system_addresses(name))
    addresses = []
    for record_type in ("A", "AAAA"):
        try:
            addresses.extend(record.to_text() for record in resolver.resolve(name, record_type))
        except dns.resolver.NXDOMAIN:
            break
        except dns.exception.DNSException:
            continue
    return Host(name, tuple(addresses))


def _system_addresses(name):
    try:
        found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return ()
    return tuple(dict.fromkeys(info[4][0] for info in found))
