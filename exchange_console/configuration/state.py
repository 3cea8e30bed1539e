"""The organization's configuration as plain data: every object a script can recreate, under its noun and identity,
with each parameter as Get- shows it. Built from the schemas' Param lists (one description of each object), so an
export, a diff and the audit log's point in time read the same values; JSON, so a scratch database's process can
hand its state back.

A state is a list of entries {"noun", "identity", "key", "values": {Parameter: shown value}} in KINDS order.
"""
from dataclasses import dataclass
from typing import Callable

from exchange_console.accounts.models import ManagementScope, RoleGroupMember
from exchange_console.accounts.schemas import MANAGEMENT_SCOPE, ROLE_GROUP_MEMBER
from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, ReceiveConnectorPermission, \
    RoutingGroupConnector, SendConnector
from exchange_console.connectors.schemas import (
    AD_PERMISSION, FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, ROUTING_GROUP_CONNECTOR, SEND_CONNECTOR,
)
from exchange_console.organization.models import (
    AcceptedDomain, AdSiteLink, LegacyExchangeServer, Mailbox, RemoteDomain, RoutingGroup, Site, TransportConfig,
    TransportServer,
)
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, LEGACY_EXCHANGE_SERVER, MAILBOX, REMOTE_DOMAIN, ROUTING_GROUP, SITE, SITE_LINK, TRANSPORT_CONFIG,
    TRANSPORT_SERVER,
)
from exchange_console.params import Credential, ObjectRefs

# Never read back: a script names a variable the administrator fills in instead (script.py).
UNREADABLE = {("Mailbox", "Password"), ("LegacyExchangeServer", "Certificate")}


@dataclass(frozen=True)
class Kind:
    schema: object
    objects: Callable          # objects(server or None) -> the objects of this kind to describe
    remove_last: bool = False  # removed after the creations (others may still use it until then)
    removable: bool = True     # whether the shell has a Remove- for it
    removed_by: tuple = ()     # an entry of a list (no identity of its own): Add- it, Remove- it with these
    entry_of: str = ""         # the noun of the object whose list it is (its identity is that object's)
    audited: bool = True       # the admin audit log records its changes' properties (history.py undoes them)
    new_switches: str = ""     # what its New- line always says (New-RoutingGroup -Legacy)

    @property
    def noun(self):
        return self.schema.noun


def _local_servers():
    """The servers an installation has of its own (an organization's Hubs); the Edges it knows come with their Edge
    subscriptions, which a script can't recreate."""
    return TransportServer.objects.local()


def _servers(server):
    return _local_servers().filter(pk=server.pk) if server else _local_servers()


def _connectors_from(model, server):
    """Send and foreign connectors whose source servers are all this installation's own (EdgeSync's connectors, whose
    sources are subscribed Edges, come back with the subscription); for one server, those it is a source of that
    don't name another server's receive connector."""
    foreign = TransportServer.objects.exclude(pk__in=_local_servers())
    connectors = model.objects.exclude(source_transport_servers__in=foreign).prefetch_related(
        "source_transport_servers")
    if server is None:
        return connectors
    connectors = connectors.filter(source_transport_servers=server)
    if model is SendConnector:
        others = TransportServer.objects.exclude(pk=server.pk)
        connectors = connectors.exclude(linked_receive_connector__server__in=others)
    return connectors


def _organization_wide(model):
    return lambda server: model.objects.all()


def _not_per_server(queryset):
    return lambda server: queryset.none() if server else queryset.all()  # a fresh queryset each time


# In the order a script creates them: what an object names exists before it. For one server: the organization's
# objects (sites, settings, domains, mailboxes), its own settings and receive connectors, and the connectors it is a
# source of.
KINDS = [
    Kind(SITE, _organization_wide(Site), removable=False),
    Kind(SITE_LINK, _organization_wide(AdSiteLink)),
    Kind(TRANSPORT_CONFIG, _organization_wide(TransportConfig), removable=False),
    Kind(TRANSPORT_SERVER, _servers, removable=False),
    Kind(ACCEPTED_DOMAIN, _organization_wide(AcceptedDomain), remove_last=True),
    Kind(REMOTE_DOMAIN, _organization_wide(RemoteDomain)),
    # Exchange 2003's routing groups and servers (Exchange 2010's routing group comes with every organization),
    # before the mailboxes in their databases and the routing group connectors to them.
    Kind(ROUTING_GROUP, lambda server: RoutingGroup.objects.filter(legacy=True), new_switches="-Legacy"),
    Kind(LEGACY_EXCHANGE_SERVER, lambda server: LegacyExchangeServer.objects.select_related("routing_group")),
    Kind(MAILBOX, _organization_wide(Mailbox)),
    Kind(RECEIVE_CONNECTOR, lambda server: ReceiveConnector.objects.filter(server__in=_servers(server))
         .select_related("server")),
    Kind(AD_PERMISSION, lambda server: ReceiveConnectorPermission.objects.filter(
        connector__server__in=_servers(server)).select_related("connector__server", "mailbox"),
        removed_by=("User", "ExtendedRights", "Deny"), entry_of=RECEIVE_CONNECTOR.noun),
    Kind(SEND_CONNECTOR, lambda server: _connectors_from(SendConnector, server)),
    Kind(FOREIGN_CONNECTOR, lambda server: _connectors_from(ForeignConnector, server)),
    Kind(ROUTING_GROUP_CONNECTOR, lambda server: RoutingGroupConnector.objects.select_related(
        "routing_group", "target_routing_group")),
    Kind(MANAGEMENT_SCOPE, _not_per_server(ManagementScope.objects.all()), audited=False),
    Kind(ROLE_GROUP_MEMBER, _not_per_server(RoleGroupMember.objects.select_related("role_group", "user", "scope")
                                            .order_by("role_group__name", "user__username")),
         removed_by=("Member",), audited=False),
]
KINDS_BY_NOUN = {kind.noun: kind for kind in KINDS}


def readable_params(schema):
    """The parameters a script sets, in the schema's order: the settable ones whose value can be read back."""
    return [param for param in schema.params if param.settable and (schema.noun, param.name) not in UNREADABLE]


def shown(schema, obj, param, server=None):
    """The value as Get- shows it (a credential: its user name); for one server's state, a list of servers shows
    only that one (the others aren't in its script)."""
    value = schema.value(obj, param)
    if server is not None and isinstance(param.type, ObjectRefs):
        value = [item for item in value if not isinstance(item, TransportServer) or item.pk == server.pk]
    return value[0] if isinstance(param.type, Credential) and value else param.type.format(value)


def entry(schema, obj, server=None):
    identity = None if schema.singleton else schema.identity(obj)
    values = {param.name: shown(schema, obj, param, server) for param in readable_params(schema)}
    return {"noun": schema.noun, "identity": identity, "key": entry_key(schema.noun, identity, values),
            "values": values}


def entry_key(noun, identity, values):
    """What tells two objects of a kind apart: the identity; for an entry of a list (an ADPermission entry, a
    role group's member), what it holds too."""
    kind = KINDS_BY_NOUN[noun]
    held = [values.get(param.name, "") for param in readable_params(kind.schema)] if kind.removed_by else []
    return ":".join([noun, identity or "", *held]).lower()


def capture(server=None):
    """The live configuration (or what concerns one server) as a state."""
    return [entry(kind.schema, obj, server) for kind in KINDS for obj in kind.objects(server)]


def by_key(state):
    return {item["key"]: item for item in state}
