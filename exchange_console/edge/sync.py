"""What EdgeSync carries and how the Edge applies it (docs/edge.md).

The Hub side builds, from the organization's database, one value per kind of object an Edge needs, in the order
they are applied: the site's Hub servers (how to reach them, their certificates), the transport settings, the
accepted and remote domains, the send connectors whose source is the Edge, and the recipients (hashed). Each
kind has a digest; a push carries only the kinds whose digest differs from what the Edge reports holding, so an
unchanged organization costs one round trip. The Edge applies a push in one transaction and reloads its worker.
"""
import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from exchange_console import secrets, services
from exchange_console.certificates.services import trust_certificate
from exchange_console.connectors.models import SendConnector
from exchange_console.edge.models import CONFIGURATION, RECIPIENTS, EdgeRecipient
from exchange_console.lib.domains import recipient_hash
from exchange_console.organization.models import (
    AcceptedDomain, Mailbox, Organization, RemoteDomain, Site, TransportConfig, TransportServer,
)

TRANSPORT_SERVER, TRANSPORT_CONFIG = "TransportServer", "TransportConfig"
ACCEPTED_DOMAIN, REMOTE_DOMAIN, SEND_CONNECTOR, RECIPIENT = (
    "AcceptedDomain", "RemoteDomain", "SendConnector", "Recipient")
KINDS = {CONFIGURATION: (TRANSPORT_SERVER, TRANSPORT_CONFIG, ACCEPTED_DOMAIN, REMOTE_DOMAIN, SEND_CONNECTOR),
         RECIPIENTS: (RECIPIENT,)}
ORDER = KINDS[CONFIGURATION] + KINDS[RECIPIENTS]
BOOKKEEPING = ("id", "created", "modified", "version")
TRANSPORT_SETTINGS = ("max_send_size", "max_receive_size", "max_recipient_envelope_limit",
                      "tls_send_domain_secure_list", "tls_receive_domain_secure_list", "internal_smtp_servers",
                      "external_postmaster_address",
                      # the reports an Edge writes to the Internet follow the organization's DSN settings
                      "generate_copy_of_dsn_for", "external_dsn_send_html", "internal_dsn_send_html",
                      "external_dsn_max_message_attach_size", "internal_dsn_max_message_attach_size",
                      "external_dsn_reporting_authority", "internal_dsn_reporting_authority",
                      "external_delay_dsn_enabled", "internal_delay_dsn_enabled")


def digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder).encode()).hexdigest()


def _fields(model, exclude=()):
    return [field for field in model._meta.concrete_fields
            if field.name not in BOOKKEEPING + tuple(exclude) and not field.is_relation]


def _row(obj, fields):
    return json.loads(json.dumps({field.name: field.value_from_object(obj) for field in fields},
                                 cls=DjangoJSONEncoder))


# --- The Hub side: what the organization holds for one Edge -------------------------------------------------------

def build(subscription, kinds):
    """{kind: value} of the given kinds for the subscribed Edge."""
    builders = {TRANSPORT_SERVER: _hub_servers, TRANSPORT_CONFIG: _transport_settings,
                ACCEPTED_DOMAIN: lambda s: _rows(AcceptedDomain.objects.all()),
                REMOTE_DOMAIN: lambda s: _rows(RemoteDomain.objects.all()),
                SEND_CONNECTOR: _edge_send_connectors, RECIPIENT: _recipients}
    return {kind: builders[kind](subscription) for kind in ORDER if kind in kinds}


def _rows(queryset, exclude=()):
    fields = _fields(queryset.model, exclude)
    return [_row(obj, fields) for obj in queryset.order_by("guid")]


def _hub_servers(subscription):
    from exchange_console.edge.services import organization_name

    hubs = TransportServer.objects.local().filter(site=subscription.site).order_by("name")
    return {
        "Organization": organization_name(), "Site": subscription.site.name,
        "Hubs": [{"guid": str(hub.guid), "name": hub.name, "fqdn": hub.fqdn, "smtp_port": hub.exchange_smtp_port,
                  "certificates": sorted(hub.certificates.filter(services="SMTP").values_list(
                      "certificate_pem", flat=True))} for hub in hubs],
    }


def _transport_settings(subscription):
    config = TransportConfig.objects.first() or TransportConfig()
    return {name: getattr(config, name) for name in TRANSPORT_SETTINGS}


def _edge_send_connectors(subscription):
    connectors = SendConnector.objects.filter(source_transport_servers=subscription.server)
    rows = _rows(connectors, exclude=("auth_password_encrypted",))
    # The password travels (over the mutual TLS channel) in clear and is encrypted again with the Edge's key.
    for row, connector in zip(rows, connectors.order_by("guid")):
        row["auth_password"] = connector.authentication_credential[1] if connector.auth_username else ""
    return rows


def _recipients(subscription):
    return sorted(recipient_hash(address) for address in Mailbox.objects.values_list("primary_smtp_address",
                                                                                      flat=True))


# --- The Edge side: applying a push -------------------------------------------------------------------------------

@transaction.atomic
def apply(state, organization, site, kinds, digests):
    """Apply the kinds pushed (a dict as `build` makes it) to the Edge's database; returns what each changed."""
    changed = {}
    for kind in ORDER:
        if kind in kinds:
            changed[kind] = APPLY[kind](state, kinds[kind])
    now = timezone.now().isoformat()
    state.site = site
    state.subscribed = state.subscribed or timezone.now()
    state.digests = {**state.digests, **{kind: digests[kind] for kind in kinds}}
    state.synchronized = {**state.synchronized, **dict.fromkeys(kinds, now)}
    state.save()
    if organization:
        Organization.objects.update_or_create(defaults={"name": organization})
    services.reload_local_servers()
    return changed


def _apply_hub_servers(state, value):
    site, _ = Site.objects.get_or_create(name=value["Site"])
    edge = state.server
    if edge.site_id != site.pk:
        TransportServer.objects.filter(pk=edge.pk).update(site=site)
    kept, fingerprints = [], []
    for hub in value["Hubs"]:
        server, _ = TransportServer.objects.update_or_create(guid=hub["guid"], defaults={
            "name": hub["name"], "fqdn": hub["fqdn"], "role": TransportServer.HUB, "site": site})
        server.certificates.all().delete()
        for pem in hub["certificates"]:
            fingerprints.append(trust_certificate(server, pem).thumbprint_sha256)
        kept.append(server.pk)
    TransportServer.objects.filter(role=TransportServer.HUB).exclude(pk__in=kept).delete()
    state.hub_fingerprints = fingerprints
    state.hub_servers = [{"name": hub["name"], "fqdn": hub["fqdn"], "smtp_port": hub["smtp_port"]}
                         for hub in value["Hubs"]]
    return len(kept)


def _apply_transport_settings(state, value):
    organization, _ = Organization.objects.get_or_create(defaults={"name": state.server.name})
    config, _ = TransportConfig.objects.get_or_create(organization=organization)
    for name in TRANSPORT_SETTINGS:
        setattr(config, name, value[name])
    config.version += 1
    config.save()
    return 1


def _replace(model, rows, prepare=lambda obj, row: None, after=lambda obj: None):
    """The model's rows become `rows` (matched by GUID): missing ones deleted first (a name may move to another)."""
    fields = {field.name: field for field in _fields(model)}
    model.objects.exclude(guid__in=[row["guid"] for row in rows]).delete()
    for row in rows:
        values = {name: fields[name].to_python(value) for name, value in row.items() if name in fields}
        obj = model.objects.filter(guid=values["guid"]).first() or model(guid=values["guid"])
        for name, value in values.items():
            setattr(obj, name, value)
        prepare(obj, row)
        obj.version += 1
        obj.save()
        after(obj)
    return len(rows)


def _apply_accepted_domains(state, rows):
    AcceptedDomain.objects.update(default=False)   # the default may move: one at a time is a constraint
    return _replace(AcceptedDomain, rows)


def _apply_remote_domains(state, rows):
    return _replace(RemoteDomain, rows)


def _apply_send_connectors(state, rows):
    def credential(connector, row):
        connector.auth_password_encrypted = secrets.encrypt(row["auth_password"]) if connector.auth_username else ""

    return _replace(SendConnector, rows, prepare=credential,
                    after=lambda connector: connector.source_transport_servers.set([state.server]))


def _apply_recipients(state, hashes):
    wanted = set(hashes)
    present = set(EdgeRecipient.objects.values_list("address_hash", flat=True))
    EdgeRecipient.objects.filter(address_hash__in=present - wanted).delete()
    EdgeRecipient.objects.bulk_create([EdgeRecipient(address_hash=value) for value in wanted - present],
                                      batch_size=1000)
    return len(wanted)


APPLY = {TRANSPORT_SERVER: _apply_hub_servers, TRANSPORT_CONFIG: _apply_transport_settings,
         ACCEPTED_DOMAIN: _apply_accepted_domains, REMOTE_DOMAIN: _apply_remote_domains,
         SEND_CONNECTOR: _apply_send_connectors, RECIPIENT: _apply_recipients}
