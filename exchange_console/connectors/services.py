"""Add-ADPermission and Remove-ADPermission on a receive connector, through the write path: each entry is one
extended right allowed or denied to one principal, authorized and audited as the caller's, and the connector's
server reloads once the change has committed. Routing group connectors created and removed in pairs
(BiDirectional)."""
from django.db import transaction
from django.utils import timezone

from exchange_console import services
from exchange_console.connectors.models import ReceiveConnector, ReceiveConnectorPermission, RoutingGroupConnector
from exchange_console.connectors.schemas import AD_PERMISSION, ROUTING_GROUP_CONNECTOR
from exchange_console.lib.errors import ParameterError
from exchange_console.organization.models import Mailbox
from exchange_console.params import parse_param


def parse_entries(values):
    """(principal, [extended rights], deny) from -User, -ExtendedRights and -Deny; every refusal names its
    parameter."""
    parsed, errors = {}, []
    for name in ("User", "ExtendedRights", "Deny"):
        param = AD_PERMISSION.param(name)
        if name not in values:
            if name != "Deny":
                errors.append(ParameterError(name, f"{name}: a value is required."))
            continue
        try:
            parsed[name] = parse_param(name, param.type, values[name])
        except ParameterError as error:
            errors.append(error)
    if errors:
        raise services.ConfigurationError(errors)
    return parsed["User"], parsed["ExtendedRights"], parsed.get("Deny", False)


def add_permission(connector, values):
    """One entry (values: User, ExtendedRights with one right, Deny); an entry already there is kept as is."""
    return services.audited("Add", AD_PERMISSION, None, values, lambda: _add(connector, values))


def remove_permission(entry, values):
    services.audited("Remove", AD_PERMISSION, entry, values, lambda: _remove(entry))


def matching_entries(connector, principal, rights, deny):
    principal_field = {"mailbox": principal} if isinstance(principal, Mailbox) else {"user": principal, "mailbox": None}
    return ReceiveConnectorPermission.objects.select_related("connector__server", "mailbox").filter(
        connector=connector, extended_right__in=rights, deny=deny, **principal_field)


@transaction.atomic
def _add(connector, values):
    principal, rights, deny = parse_entries(values)
    entry = ReceiveConnectorPermission(connector=connector, extended_right=rights[0], deny=deny)
    if isinstance(principal, Mailbox):
        entry.mailbox = principal
    else:
        entry.user = principal
    services.authorize("Add", AD_PERMISSION, entry)
    existing = matching_entries(connector, principal, rights, deny).first()
    if existing is not None:
        return existing
    flow = services.MailFlowChecks(AD_PERMISSION, entry)
    entry.save()
    _changed(entry)
    flow.after(AD_PERMISSION, entry)
    return entry


@transaction.atomic
def _remove(entry):
    current = ReceiveConnectorPermission.objects.select_for_update().select_related("connector__server").get(
        pk=entry.pk)
    services.authorize("Remove", AD_PERMISSION, current)
    current.delete()   # the caller's entry keeps its key: the audit entry names its connector
    _changed(entry)


def _changed(entry):
    """The connector's WhenChanged moves with its permissions (as its security descriptor's change does in
    Active Directory), and its server reloads."""
    ReceiveConnector.objects.filter(pk=entry.connector_id).update(modified=timezone.now())
    services.notify_servers(AD_PERMISSION, entry)


# --- Routing group connectors ------------------------------------------------------------------------------------

def reciprocal_values(connector):
    """What New-RoutingGroupConnector -BiDirectional creates in the other routing group: the same name, the
    servers swapped, the same settings."""
    return {"Name": connector.name, "SourceTransportServers": connector.target_transport_servers,
            "TargetTransportServers": connector.source_transport_servers, "Cost": connector.cost,
            "MaxMessageSize": "unlimited" if connector.max_message_size is None else connector.max_message_size,
            "PublicFolderReferralsEnabled": connector.public_folder_referrals_enabled}


def reciprocal_of(connector):
    return RoutingGroupConnector.objects.select_related("routing_group", "target_routing_group").filter(
        name__iexact=connector.name, routing_group_id=connector.target_routing_group_id,
        target_routing_group_id=connector.routing_group_id).first()


@transaction.atomic
def new_routing_group_connector(values, bidirectional=False):
    """The connector and, BiDirectional, its reciprocal: both or neither."""
    created = [services.new_object(ROUTING_GROUP_CONNECTOR, values)]
    if bidirectional:
        created.append(services.new_object(ROUTING_GROUP_CONNECTOR, reciprocal_values(created[0])))
    return created


@transaction.atomic
def remove_routing_group_connector(connector):
    """The connector and its reciprocal (the other direction of a bidirectional pair), if there is one."""
    reciprocal = reciprocal_of(connector)
    services.remove_object(ROUTING_GROUP_CONNECTOR, connector)
    if reciprocal is not None:
        services.remove_object(ROUTING_GROUP_CONNECTOR, reciprocal)
