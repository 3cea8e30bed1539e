"""Install-time steps (what Exchange setup does), each idempotent and each through the one write path."""
from django.db import transaction

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.organization.models import (
    AcceptedDomain, Mailbox, Organization, RemoteDomain, Site, TransportConfig, TransportServer,
)
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, SITE, TRANSPORT_SERVER,
)
from exchange_console.services import new_object

DEFAULT_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]
CLIENT_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"]


def install_organization(name, site_name):
    organization, _ = Organization.objects.get_or_create(defaults={"name": name})
    TransportConfig.objects.get_or_create(organization=organization)
    if not Site.objects.filter(name=site_name).exists():
        new_object(SITE, {"Name": site_name})
    if not RemoteDomain.objects.filter(domain_name="*").exists():
        new_object(REMOTE_DOMAIN, {"Name": "Default", "DomainName": "*"})
    return organization


def ensure_accepted_domain(domain_name):
    if not AcceptedDomain.objects.filter(domain_name=domain_name).exists():
        new_object(ACCEPTED_DOMAIN, {"Name": domain_name, "DomainName": domain_name})


@transaction.atomic
def install_transport_server(name, fqdn, site_name, smtp_port=25, submission_port=587, role="HubTransport"):
    """A server and, on a Hub, the two receive connectors Exchange setup creates (docs/exchange-behaviour.md)."""
    server = TransportServer.objects.filter(name=name).first()
    if server is None:
        server = new_object(TRANSPORT_SERVER, {"Name": name, "Fqdn": fqdn, "Site": site_name, "ServerRole": role})
    if server.is_edge or ReceiveConnector.objects.filter(server=server).exists():
        return server
    new_object(RECEIVE_CONNECTOR, {
        "Name": f"Default {name}", "Server": server, "Bindings": f"0.0.0.0:{smtp_port}",
        "RemoteIPRanges": "0.0.0.0-255.255.255.255", "AuthMechanism": DEFAULT_AUTH,
        "PermissionGroups": ["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"],
    })
    new_object(RECEIVE_CONNECTOR, {
        "Name": f"Client {name}", "Server": server, "Bindings": f"0.0.0.0:{submission_port}",
        "RemoteIPRanges": "0.0.0.0-255.255.255.255", "AuthMechanism": CLIENT_AUTH,
        "PermissionGroups": ["ExchangeUsers"],
    })
    return server


def ensure_mailbox(name, address, password):
    if not Mailbox.objects.filter(primary_smtp_address=address).exists():
        new_object(MAILBOX, {"Name": name, "PrimarySmtpAddress": address, "Password": password})
