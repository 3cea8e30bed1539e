"""Add-, Get- and Remove-ADPermission on receive connectors, as relay guides use them:

    Get-ReceiveConnector "Relay" | Add-ADPermission -User "NT AUTHORITY\\ANONYMOUS LOGON" `
        -ExtendedRights "ms-Exch-SMTP-Accept-Any-Recipient"

Each entry allows (or, with -Deny, denies) one extended right to one principal; Get-ADPermission shows one row
per entry, as Exchange shows one access control entry per right. It lists what the connector's PermissionGroups
grant too (those rows change with PermissionGroups, not with Remove-ADPermission)."""
from dataclasses import replace
from functools import partial

from exchange_console.connectors.models import ReceiveConnector, ReceiveConnectorPermission, RoutingGroupConnector
from exchange_console.connectors.schemas import AD_PERMISSION, RECEIVE_CONNECTOR, ROUTING_GROUP_CONNECTOR
from exchange_console.connectors.services import (
    add_permission, matching_entries, new_routing_group_connector, parse_entries, remove_permission,
    remove_routing_group_connector,
)
from exchange_console.lib.errors import ParameterError
from exchange_console.params import Bool, parse_param, split_list
from exchange_console.services import ConfigurationError
from exchange_console.shell.cmdlets import (
    CHANGE_SWITCHES, FORCE, ConfigNoun, ReceiveConnectorNoun, apply, change_values, find, new_parameters,
    register_configuration_cmdlets, remove_parameters, server_location, targets, warn_not_applied,
)
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import ConfigRecord, service_value, to_string, unroll
from transport.receive.policy import group_grants

RECEIVE_CONNECTORS = ReceiveConnectorNoun(RECEIVE_CONNECTOR, "Receive connector", location=server_location,
                                          queryset=lambda: ReceiveConnector.objects.select_related("server"))
PRINCIPALS = AD_PERMISSION.param("User").type
IDENTITY = Parameter("Identity", position=0, mandatory=True, pipeline=True)
ENTRY_PARAMETERS = (
    Parameter("User", type_name="Microsoft.Exchange.Configuration.Tasks.SecurityPrincipalIdParameter"),
    Parameter("ExtendedRights", type_name="Microsoft.Exchange.Management.Tasks.ExtendedRightIdParameter[]"),
    Parameter("AccessRights", type_name="System.DirectoryServices.ActiveDirectoryRights[]"),
    Parameter("Deny", switch=True),
)


def record(entry):
    return ConfigRecord(AD_PERMISSION, entry)


def connector_of(identity):
    """The receive connector an -Identity names: piped (a connector, or one of its entries) or by identity."""
    if isinstance(identity, ConfigRecord) and isinstance(identity.obj, ReceiveConnectorPermission):
        return identity.obj.connector
    try:
        found = find(RECEIVE_CONNECTORS, identity)
    except ObjectNotFoundError as error:
        raise ParameterBindingError(f"Cannot bind parameter 'Identity'. {error.message}") from None
    if len(found) > 1:
        raise ParameterBindingError(f"Cannot bind parameter 'Identity'. '{to_string(identity)}' names receive "
                                    f"connectors on several servers; give it as SERVER\\Name.")
    return found[0]


def entry_values(invocation):
    """-User, -ExtendedRights and -Deny as the write path takes them, one dictionary per extended right."""
    access = [to_string(item).strip().lower() for item in unroll(invocation.get("AccessRights"))]
    if any(item != "extendedright" for item in access):
        raise ParameterBindingError("Cannot bind parameter 'AccessRights'. A receive connector's permissions are "
                                    "extended rights: give them with -ExtendedRights.")
    base = {"User": service_value(invocation.get("User"))} if "User" in invocation else {}
    if invocation.get("Deny"):
        base["Deny"] = True
    rights = split_list(service_value(invocation.get("ExtendedRights")))
    return [{**base, "ExtendedRights": right} for right in rights] or [base]


def group_entries(connector):
    """Unsaved entries for what the connector's permission groups grant, each knowing its group."""
    entries = []
    for group, principal, right in group_grants(connector.permission_groups):
        entry = ReceiveConnectorPermission(connector=connector, user=principal, extended_right=right)
        entry.granted_by = group
        entries.append(entry)
    return entries


def group_grant_error(entry):
    return ConfigurationError([ParameterError("ExtendedRights", (
        f"ExtendedRights: '{entry.extended_right}' for '{entry.user}' on '{entry.connector.identity}' comes from its "
        f"PermissionGroups ({entry.granted_by}); take it away with Add-ADPermission -Deny, or change PermissionGroups "
        f"with Set-ReceiveConnector."))])


@cmdlet("Get-ADPermission", IDENTITY, Parameter("User"))
def get_ad_permission(invocation):
    found = []
    for identity in invocation.each("Identity"):
        connector = connector_of(identity)
        entries = [*group_entries(connector),
                   *connector.permissions.select_related("connector__server", "mailbox")]
        if "User" in invocation:
            principal = parse_param("User", PRINCIPALS, service_value(invocation.get("User")))
            entries = [entry for entry in entries if principal in (entry.mailbox, entry.user)]
        found.extend(record(entry) for entry in entries)
    return found


@cmdlet("Add-ADPermission", IDENTITY, *ENTRY_PARAMETERS, *CHANGE_SWITCHES, FORCE)
def add_ad_permission(invocation):
    planned = []
    for identity in invocation.each("Identity"):
        connector = connector_of(identity)
        for values in entry_values(invocation):
            action = (f'Adding Active Directory permission "{values.get("ExtendedRights", "")}" for '
                      f'"{to_string(values.get("User", ""))}" on "{connector.identity}".')
            planned.append((action, partial(add_permission, connector, values)))
    return [record(entry) for entry in apply(invocation, planned)]


@cmdlet("Remove-ADPermission", IDENTITY, *ENTRY_PARAMETERS, *CHANGE_SWITCHES)
def remove_ad_permission(invocation):
    planned = []
    for identity in invocation.each("Identity"):
        for entry, values in removals(identity, invocation):
            action = (f'Removing Active Directory permission "{entry.extended_right}" for '
                      f'"{PRINCIPALS.format(entry.mailbox or entry.user)}" on '
                      f'"{entry.connector.identity}".')
            planned.append((action, partial(remove_permission, entry, values)))
    apply(invocation, planned, confirm_by_default=True)
    return []


def removals(identity, invocation):
    """(entry, values) for each entry to remove: the piped entry itself (Get-ADPermission | Where-Object ... |
    Remove-ADPermission), or those -User, -ExtendedRights and -Deny name on the connector."""
    if isinstance(identity, ConfigRecord) and isinstance(identity.obj, ReceiveConnectorPermission):
        entry = identity.obj
        if entry.pk is None:
            raise group_grant_error(entry)
        values = {"User": entry.mailbox or entry.user, "ExtendedRights": entry.extended_right}
        return [(entry, {**values, "Deny": True} if entry.deny else values)]
    connector = connector_of(identity)
    found = []
    for values in entry_values(invocation):
        principal, rights, deny = parse_entries(values)
        entries = list(matching_entries(connector, principal, rights, deny))
        granted = [entry for entry in group_entries(connector)
                   if (entry.user, entry.extended_right) == (principal, rights[0])]
        if not entries and granted and not deny:
            raise group_grant_error(granted[0])
        if not entries:
            kind = "Deny" if deny else "Allow"
            raise ConfigurationError([ParameterError("ExtendedRights", (
                f"ExtendedRights: '{connector.identity}' has no {kind} entry of '{rights[0]}' for "
                f"'{PRINCIPALS.format(principal)}'."))])
        found.extend((entry, values) for entry in entries)
    return found


# --- Routing group connectors (coexistence with Exchange 2003) -----------------------------------------------------

class RoutingGroupConnectorNoun(ConfigNoun):
    def lookup(self, text):
        """[[Administrative group\\]Routing group\\]Name, as Exchange takes a routing group connector's identity."""
        *groups, name = [part.strip() for part in text.split("\\")]
        if not groups:
            return super().lookup(text)
        found = self.objects().filter(name__iexact=name, routing_group__name__iexact=groups[-1])
        if len(groups) > 1:
            found = found.filter(routing_group__administrative_group__iexact=groups[-2])
        return found


ROUTING_GROUP_CONNECTORS = register_configuration_cmdlets(RoutingGroupConnectorNoun(
    ROUTING_GROUP_CONNECTOR, "Routing group connector", verbs=("Get", "Set"),
    queryset=lambda: RoutingGroupConnector.objects.select_related("routing_group", "target_routing_group")))


@cmdlet("New-RoutingGroupConnector", *new_parameters(ROUTING_GROUP_CONNECTORS),
        Parameter("BiDirectional", type_name="System.Boolean"))
def new_routing_group_connector_cmdlet(invocation):
    """-BiDirectional $true creates the reciprocal connector in the other routing group too."""
    bidirectional = parse_param("BiDirectional", Bool(), service_value(invocation.get("BiDirectional", False)))
    others = {name: value for name, value in invocation.arguments.items() if name != "BiDirectional"}
    values = change_values(ROUTING_GROUP_CONNECTORS, replace(invocation, arguments=others), current=None)
    action = (f'Creating Routing group connector "{to_string(values.get("Name", ""))}"'
              f'{" and its reciprocal in the target routing group" if bidirectional else ""}.')
    created = apply(invocation, [(action, partial(new_routing_group_connector, values, bidirectional))])
    connectors = [connector for pair in created for connector in pair]
    warn_not_applied(invocation, ROUTING_GROUP_CONNECTOR, connectors, values)
    return [ROUTING_GROUP_CONNECTORS.record(connector) for connector in connectors]


@cmdlet("Remove-RoutingGroupConnector", *remove_parameters(ROUTING_GROUP_CONNECTORS))
def remove_routing_group_connector_cmdlet(invocation):
    apply(invocation, [(f'Removing Routing group connector "{connector.identity}".',
                        partial(remove_routing_group_connector, connector))
                       for connector in targets(ROUTING_GROUP_CONNECTORS, invocation)], confirm_by_default=True)
    return []
