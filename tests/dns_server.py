"""A real DNS server on loopback for tests (dnslib): serves MX, A and AAAA records from a dict.

    zone = {"fabrikam.com": [("MX", 10, "mx1.fabrikam.com")], "mx1.fabrikam.com": [("A", "127.0.0.21")]}
    with TestDNSServer(zone, "127.0.0.53", 30053) as dns: ...
Names missing from the zone get NXDOMAIN; known names without the asked type an empty answer.
"""
from dnslib import AAAA, MX, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class ZoneResolver(BaseResolver):
    def __init__(self, zone):
        self.zone = {name.lower().rstrip("."): records for name, records in zone.items()}

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        if name not in self.zone:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for record in self.zone[name]:
            if QTYPE[request.q.qtype] == record[0]:
                reply.add_answer(RR(request.q.qname, request.q.qtype, rdata=_rdata(record), ttl=60))
        return reply


def _rdata(record):
    kind, *values = record
    if kind == "MX":
        preference, exchange = values
        return MX(exchange, preference)
    return {"A": A, "AAAA": AAAA}[kind](values[0])


class TestDNSServer:
    __test__ = False

    def __init__(self, zone, address="127.0.0.53", port=30053):
        self.resolver = ZoneResolver(zone)
        self.address, self.port = address, port
        quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
        self.servers = [DNSServer(self.resolver, address=address, port=port, tcp=tcp, logger=quiet)
                        for tcp in (False, True)]

    @property
    def endpoint(self):
        return f"{self.address}:{self.port}"

    def __enter__(self):
        for server in self.servers:
            server.start_thread()
        return self

    def __exit__(self, *exc):
        for server in self.servers:
            server.stop()
            server.server.server_close()
