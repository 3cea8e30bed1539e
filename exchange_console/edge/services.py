"""Edge subscriptions, both sides, through the write path (authorized and audited like every change).

On the Edge: `New-EdgeSubscription -FileName` makes a bootstrap credential, deletes the objects EdgeSync will
manage from then on, and gives the subscription file. In the organization: `New-EdgeSubscription -FileData
-Site` imports that file: the Edge becomes a transport server of the site (role Edge, its certificate trusted),
with the EdgeSync connectors, and the site's Hubs start pushing to it. Remove-EdgeSubscription undoes either side.
"""
import secrets as random
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from exchange_console import secrets, services
from exchange_console.certificates.services import trust_certificate
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.edge import subscription_file
from exchange_console.edge.models import (
    BOOTSTRAP_LIFETIME, EdgeRecipient, EdgeSubscription, EdgeSyncServiceConfig, EdgeSyncState,
)
from exchange_console.edge.schemas import EDGE_SUBSCRIPTION, LOCAL_EDGE_SUBSCRIPTION
from exchange_console.lib.errors import ParameterError
from exchange_console.organization.models import (
    AcceptedDomain, Installation, Organization, RemoteDomain, Site, TransportServer,
)
from exchange_console.organization.schemas import TRANSPORT_SERVER

INTERNET_CONNECTOR = "EdgeSync - {site} to Internet"
INBOUND_CONNECTOR = "EdgeSync - Inbound to {site}"
# What a subscription hands over to EdgeSync on the Edge (deleted there when it is created or removed).
SYNCHRONIZED_MODELS = (AcceptedDomain, RemoteDomain, SendConnector)


def refused(parameter, message):
    return services.ConfigurationError([ParameterError(parameter, message)])


def local_edge_state():
    """The EdgeSyncState of this database's Edge, or None in an organization's database."""
    return EdgeSyncState.objects.select_related("server").first() if Installation.is_edge() else None


# --- On the Edge ------------------------------------------------------------------------------------------------

def export_subscription():
    """New-EdgeSubscription on the Edge: a new bootstrap credential (valid BOOTSTRAP_LIFETIME), the objects EdgeSync
    manages deleted, and the SubscriptionFile to write."""
    state = local_edge_state()
    if state is None:
        raise refused("FileName", "New-EdgeSubscription -FileName runs on an Edge Transport server; in the "
                                  "organization, import the file it writes with -FileData.")
    made = []

    def change():
        made.append(_export_subscription(state))
        return state

    services.audited("New", LOCAL_EDGE_SUBSCRIPTION, None, {}, change)
    return made[0]


@transaction.atomic
def _export_subscription(state):
    services.authorize("New", LOCAL_EDGE_SUBSCRIPTION, state)
    password, now = random.token_urlsafe(24), timezone.now()
    state.bootstrap_account = f"ESRA.{state.server.name}.{random.token_hex(4)}"
    state.bootstrap_password_hash = make_password(password)
    state.bootstrap_expires = now + BOOTSTRAP_LIFETIME
    state.save()
    _forget_synchronized()
    certificate = state.server.certificates.filter(services="SMTP").last()
    smtp_port = _edge_smtp_port(state.server)
    return subscription_file.SubscriptionFile(
        edge_name=state.server.name, edge_fqdn=state.server.fqdn, certificate_pem=certificate.certificate_pem,
        account=state.bootstrap_account, password=password, effective=now, duration=BOOTSTRAP_LIFETIME,
        edgesync_port=state.edgesync_port, smtp_port=smtp_port)


def _edge_smtp_port(server):
    connector = server.receive_connectors.order_by("pk").first()
    return int(connector.bindings[0].rpartition(":")[2]) if connector and connector.bindings else 25


def _forget_synchronized():
    """What EdgeSync manages, deleted (Exchange deletes manually created ones when the Edge subscribes)."""
    for model in SYNCHRONIZED_MODELS:
        model.objects.all().delete()
    EdgeRecipient.objects.all().delete()
    TransportServer.objects.exclude(pk__in=TransportServer.objects.local()).delete()


def remove_local_subscription(state):
    """Remove-EdgeSubscription on the Edge: the organization's objects go, the Edge can be managed locally again."""
    services.audited("Remove", LOCAL_EDGE_SUBSCRIPTION, state, {}, lambda: _remove_local_subscription(state))


@transaction.atomic
def _remove_local_subscription(state):
    services.authorize("Remove", LOCAL_EDGE_SUBSCRIPTION, state)
    _forget_synchronized()
    EdgeSyncState.objects.filter(pk=state.pk).update(
        bootstrap_account="", bootstrap_password_hash="", bootstrap_expires=None, site="", subscribed=None,
        hub_fingerprints=[], digests={}, synchronized={})
    services.notify_servers(TRANSPORT_SERVER, state.server)


def bootstrap_accepted(state, account, password, now=None):
    """Whether a push's bootstrap credential is the subscription file's, and not expired."""
    now = now or timezone.now()
    return bool(state.bootstrap_password_hash and state.bootstrap_expires and now < state.bootstrap_expires
                and account == state.bootstrap_account and check_password(password, state.bootstrap_password_hash))


# --- In the organization -------------------------------------------------------------------------------------------

def import_subscription(data, site, create_internet_connector=True, create_inbound_connector=True):
    """New-EdgeSubscription -FileData -Site in the organization."""
    values = {"Site": getattr(site, "name", site), "CreateInternetSendConnector": create_internet_connector,
              "CreateInboundSendConnector": create_inbound_connector}
    return services.audited("New", EDGE_SUBSCRIPTION, None, values, lambda: _import_subscription(
        data, site, create_internet_connector, create_inbound_connector))


@transaction.atomic
def _import_subscription(data, site_name, create_internet, create_inbound):
    if Installation.is_edge():
        raise refused("FileData", "New-EdgeSubscription -FileData runs in the organization; on the Edge Transport "
                                  "server, write the subscription file with -FileName.")
    try:
        parsed = subscription_file.parse(data)
    except subscription_file.SubscriptionFileError as error:
        raise refused("FileData", f"FileData: {error}") from None
    site = _site(site_name)
    _check_importable(parsed)
    server = TransportServer.objects.create(name=parsed.edge_name, fqdn=parsed.edge_fqdn, role=TransportServer.EDGE,
                                            site=site)
    subscription = EdgeSubscription(
        server=server, site=site, smtp_port=parsed.smtp_port, edgesync_port=parsed.edgesync_port,
        bootstrap_account=parsed.account, bootstrap_password_encrypted=secrets.encrypt(parsed.password),
        bootstrap_expires=parsed.expires)
    services.authorize("New", EDGE_SUBSCRIPTION, subscription)
    subscription.save()
    trust_certificate(server, parsed.certificate_pem)
    EdgeSyncServiceConfig.objects.get_or_create(site=site)
    if create_internet:
        _add_source(INTERNET_CONNECTOR.format(site=site.name), server, {
            "AddressSpaces": "SMTP:*;100", "DNSRoutingEnabled": True, "DomainSecureEnabled": True})
    if create_inbound:
        _add_source(INBOUND_CONNECTOR.format(site=site.name), server, {
            "AddressSpaces": "SMTP:--;1", "SmartHosts": "--", "DNSRoutingEnabled": False,
            "SmartHostAuthMechanism": "ExchangeServer"})
    services.reload_local_servers()   # they trust the Edge's certificate from now on
    transaction.on_commit(lambda: start_synchronization(site))
    return subscription


def _site(name):
    site = Site.objects.filter(name__iexact=str(name)).first()
    if site is None:
        raise refused("Site", f"Site: the Active Directory site '{name}' couldn't be found.")
    return site


def _check_importable(parsed):
    if parsed.expires <= timezone.now():
        raise refused("FileData", f"FileData: the Edge subscription file of {parsed.edge_name} expired at "
                                  f"{parsed.expires:%Y-%m-%d %H:%M} UTC. Run New-EdgeSubscription on the Edge "
                                  "Transport server again and import the new file.")
    if TransportServer.objects.filter(name__iexact=parsed.edge_name).exists():
        raise refused("FileData", f"FileData: a server named {parsed.edge_name} is already in the organization. "
                                  "Remove its Edge subscription (Remove-EdgeSubscription) before subscribing it again.")


def _add_source(name, server, values):
    """The EdgeSync connector of the site: created for the first Edge, then each further Edge becomes a source."""
    existing = SendConnector.objects.filter(name=name).first()
    if existing is None:
        services.new_object(SEND_CONNECTOR, {"Name": name, "SourceTransportServers": [server], **values})
    else:
        sources = list(existing.source_transport_servers.all()) + [server]
        services.set_object(SEND_CONNECTOR, existing, {"SourceTransportServers": sources})


def remove_subscription(subscription):
    """Remove-EdgeSubscription in the organization: the Edge leaves the organization and its connectors' sources
    (a connector left without a source is removed); the Hubs stop pushing to it."""
    services.audited("Remove", EDGE_SUBSCRIPTION, subscription, {}, lambda: _remove_subscription(subscription))


@transaction.atomic
def _remove_subscription(subscription):
    services.authorize("Remove", EDGE_SUBSCRIPTION, subscription)
    server = subscription.server
    for connector in SendConnector.objects.filter(source_transport_servers=server):
        sources = [source for source in connector.source_transport_servers.all() if source.pk != server.pk]
        if sources:
            services.set_object(SEND_CONNECTOR, connector, {"SourceTransportServers": sources})
        else:
            services.remove_object(SEND_CONNECTOR, connector)
    server.delete()   # the subscription and the Edge's certificate with it
    services.reload_local_servers()


def start_synchronization(site=None):
    """Start-EdgeSynchronization: every Hub of the subscribed sites pushes now (each on its own; a Hub that is
    down does not hold up the others). Returns the Hubs asked."""
    from transport import dispatch

    sites = [site] if site else list(Site.objects.filter(edge_subscriptions__isnull=False).distinct())
    hubs = list(TransportServer.objects.local().filter(site__in=sites))
    for hub in hubs:
        dispatch.synchronize_edges(hub.name)
    return hubs


def organization_name():
    organization = Organization.objects.first()
    return organization.name if organization else ""
