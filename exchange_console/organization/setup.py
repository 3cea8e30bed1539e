"""Install-time steps (what Exchange setup does), each idempotent and each through the one write path."""
from django.db import transaction

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.organization.models import (
    AcceptedDomain, AdSiteLink, Installation, Mailbox, Organization, RemoteDomain, RoutingGroup, Site,
    TransportConfig, TransportServer,
)
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, SITE, SITE_LINK, TRANSPORT_SERVER,
)
from exchange_console.services import new_object

DEFAULT_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]
CLIENT_AUTH = ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"]
EDGE_AUTH = ["Tls", "ExchangeServer"]
EDGE_PERMISSION_GROUPS = ["AnonymousUsers", "ExchangeServers", "Partners"]


def install_organization(name, site_name):
    organization, _ = Organization.objects.get_or_create(defaults={"name": name})
    TransportConfig.objects.get_or_create(organization=organization)
    if not Site.objects.filter(name=site_name).exists():
        new_object(SITE, {"Name": site_name})
    if not AdSiteLink.objects.exists():  # Active Directory creates it with the forest's first site
        new_object(SITE_LINK, {"Name": AdSiteLink.DEFAULT_NAME, "Sites": [site_name]})
    if not RemoteDomain.objects.filter(domain_name="*").exists():
        new_object(REMOTE_DOMAIN, {"Name": "Default", "DomainName": "*"})
    # Exchange 2010 setup's routing group for coexistence with Exchange 2003 (migration 0007 creates it too).
    RoutingGroup.objects.get_or_create(name=RoutingGroup.EXCHANGE_2010, defaults={
        "administrative_group": RoutingGroup.EXCHANGE_2010_ADMINISTRATIVE_GROUP, "legacy": False})
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


@transaction.atomic
def install_edge_server(name, fqdn, site_name, smtp_port=25, edgesync_port=None):
    """An Edge Transport server in a database of its own: what Edge setup creates (the server, its self-signed
    certificate, `Default internal receive connector NAME` and the EdgeSync state that New-EdgeSubscription
    fills in). The organization's objects come later, by EdgeSync."""
    from exchange_console.edge.models import EDGESYNC_PORT, EdgeSyncState

    Installation.objects.update_or_create(defaults={"kind": Installation.EDGE})
    if not Site.objects.filter(name=site_name).exists():
        new_object(SITE, {"Name": site_name})
    server = new_object(TRANSPORT_SERVER, {"Name": name, "Fqdn": fqdn, "Site": site_name, "ServerRole": "Edge"})
    new_object(RECEIVE_CONNECTOR, {
        "Name": f"Default internal receive connector {name}", "Server": server, "Bindings": f"0.0.0.0:{smtp_port}",
        "RemoteIPRanges": "0.0.0.0-255.255.255.255", "AuthMechanism": EDGE_AUTH,
        "PermissionGroups": EDGE_PERMISSION_GROUPS,
    })
    EdgeSyncState.objects.create(server=server, edgesync_port=edgesync_port or EDGESYNC_PORT)
    return server
