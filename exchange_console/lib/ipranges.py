"""Receive connector RemoteIPRanges and Bindings, and IP endpoints such as smart hosts and DNS servers."""
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class IPRange:
    """An inclusive range of addresses of one family; shown as Exchange does (address, a-b, or CIDR)."""
    first: ipaddress._BaseAddress
    last: ipaddress._BaseAddress
    text: str

    def __str__(self):
        return self.text

    def __contains__(self, address):
        address = ipaddress.ip_address(address) if isinstance(address, str) else address
        if address.version != self.first.version:
            mapped = getattr(address, "ipv4_mapped", None)
            if mapped is None:
                return False
            address = mapped
        return self.first <= address <= self.last

    @property
    def size(self):
        return int(self.last) - int(self.first) + 1

    def contains_range(self, other):
        return self.first.version == other.first.version and self.first <= other.first and other.last <= self.last

    def overlaps(self, other):
        return (self.first.version == other.first.version
                and self.first <= other.last and other.first <= self.last)

    def same_span(self, other):
        return self.first == other.first and self.last == other.last


def parse_ip_range(text):
    """A single address, 'a-b', CIDR 'a/n' or 'a(mask)', as RemoteIPRanges accepts them."""
    raw = str(text).strip()
    if "-" in raw and "/" not in raw:
        start, end = (_address(part, raw) for part in raw.split("-", 1))
        if start.version != end.version:
            raise ValueError(f"'{raw}' mixes IPv4 and IPv6 addresses")
        if start > end:
            raise ValueError(f"'{raw}': the first address of a range must not be higher than the last")
        return IPRange(start, end, f"{start}-{end}")
    if "/" in raw or ("(" in raw and raw.endswith(")")):
        network = _network(raw.replace("(", "/").rstrip(")"), raw)
        return IPRange(network[0], network[-1], str(network))
    address = _address(raw, raw)
    return IPRange(address, address, str(address))


def _address(part, raw):
    try:
        return ipaddress.ip_address(part.strip())
    except ValueError:
        raise ValueError(f"'{raw}' is not an IP address, a range (a-b) or a CIDR block (a/n)") from None


def _network(spec, raw):
    try:
        return ipaddress.ip_network(spec.replace(" ", ""), strict=False)
    except ValueError:
        raise ValueError(f"'{raw}' is not an IP address, a range (a-b) or a CIDR block (a/n)") from None


@dataclass(frozen=True)
class Binding:
    address: ipaddress._BaseAddress
    port: int

    def __str__(self):
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{host}:{self.port}"

    @property
    def is_all_addresses(self):
        return self.address.is_unspecified

    def overlaps(self, other):
        """Two bindings reach the same listener when ports match and one address covers the other."""
        if self.port != other.port or self.address.version != other.address.version:
            return False
        return self.address == other.address or self.is_all_addresses or other.is_all_addresses


def split_host_port(text, default_port=None):
    """'1.2.3.4:25', '[::1]:25', 'host:25', 'host' -> (host, port)."""
    raw = str(text).strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        if rest and not rest.startswith(":"):
            raise ValueError(f"'{raw}' is not host:port")
    elif raw.count(":") == 1:
        host, port = raw.split(":")
    else:
        host, port = raw, None
    if port is None:
        if default_port is None:
            raise ValueError(f"'{raw}' needs a port, as IP:port")
        return host, default_port
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"'{raw}': the port must be a number from 1 to 65535")
    return host, int(port)


def parse_binding(text):
    host, port = split_host_port(text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{text}' is not a binding; use IP:port such as 0.0.0.0:25 or [::]:25") from None
    return Binding(address, port)


def parse_ip_endpoint(text):
    """A DNS server entry: 'ip' or 'ip:port' ('[ip]:port' for IPv6); returns the canonical text."""
    raw = str(text).strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        pass
    host, port = split_host_port(raw, default_port=53)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{raw}' is not an IP address or IP:port") from None
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"
