"""The immutable configuration a transport server runs: plain frozen dataclasses built from the models.

The SMTP hot path reads only this, never the ORM, so it can be tested without Django and a configuration
change is applied by swapping one object.
"""
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ReceiveConnectorConfig:
    identity: str
    name: str
    bindings: tuple
    remote_ip_ranges: tuple
    fqdn: str
    banner: str
    permission_groups: frozenset
    auth_mechanism: frozenset
    enabled: bool
    protocol_logging_level: str
    max_message_size: int
    max_recipients_per_message: int
    connection_timeout: timedelta
    connection_inactivity_timeout: timedelta


@dataclass(frozen=True)
class ServerSnapshot:
    name: str
    fqdn: str
    role: str
    site: str
    receive_connectors: tuple
    accepted_domains: tuple


def build_snapshot(server_name):
    """Read the configuration of one server from the database (called off the hot path)."""
    from exchange_console.connectors.models import ReceiveConnector
    from exchange_console.organization.models import AcceptedDomain, TransportServer

    server = TransportServer.objects.select_related("site").get(name__iexact=server_name)
    connectors = tuple(
        ReceiveConnectorConfig(
            identity=connector.identity, name=connector.name, bindings=tuple(connector.bindings),
            remote_ip_ranges=tuple(connector.remote_ip_ranges), fqdn=connector.fqdn or server.fqdn,
            banner=connector.banner, permission_groups=frozenset(connector.permission_groups),
            auth_mechanism=frozenset(connector.auth_mechanism), enabled=connector.enabled,
            protocol_logging_level=connector.protocol_logging_level,
            max_message_size=connector.max_message_size,
            max_recipients_per_message=connector.max_recipients_per_message,
            connection_timeout=connector.connection_timeout,
            connection_inactivity_timeout=connector.connection_inactivity_timeout,
        )
        for connector in ReceiveConnector.objects.filter(server=server).select_related("server")
    )
    domains = tuple((domain.domain_name, domain.domain_type) for domain in AcceptedDomain.objects.all())
    return ServerSnapshot(server.name, server.fqdn, server.role, server.site.name, connectors, domains)
