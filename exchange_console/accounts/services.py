"""The one write path for administrator accounts and their role groups; each change is authorized (only
Organization Management manages administrators) and recorded in the admin audit log like any other."""
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from exchange_console.accounts.models import AdminAuditEntry, ManagementScope, RoleGroup, RoleGroupMember
from exchange_console.accounts.rbac import AccessDenied, is_organization_manager
from exchange_console.lib.errors import ParameterError
from exchange_console.organization.models import TransportServer
from exchange_console.params import shell_quote
from exchange_console.queues.filters import Column, OPathFilter
from exchange_console.services import ConfigurationError, current_caller


def _authorize(cmdlet):
    caller = current_caller()
    if caller is not None and not is_organization_manager(caller.user):
        raise AccessDenied(f"Access denied: {caller.user.get_username()} isn't allowed to run {cmdlet}. "
                           f"Only Organization Management manages administrators.")


def _audit(cmdlet, command, identity, object_type, error=None, changes=None):
    caller = current_caller()
    if caller is not None:
        AdminAuditEntry.objects.create(
            caller=caller.user.get_username(), origin=caller.origin, cmdlet=cmdlet, command=command,
            object_type=object_type, object_identity=identity, succeeded=error is None,
            error="" if error is None else str(error), changes=changes or {})


def _audited(cmdlet, command, identity, change, object_type="Administrator"):
    try:
        with transaction.atomic():
            _authorize(cmdlet)
            result, changes = change()
            _audit(cmdlet, command, identity, object_type, changes=changes)
        return result
    except (ConfigurationError, AccessDenied) as error:
        _audit(cmdlet, command, identity, object_type, error=error)
        raise


def _check_password(password, user):
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ConfigurationError([ParameterError("Password", f"Password: {message}") for message in error.messages])


def new_administrator(username, password, role_groups=(), servers=()):
    def change():
        name = username.strip()
        if not name:
            raise ConfigurationError([ParameterError("Name", "Name: a value is required.")])
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise ConfigurationError([ParameterError("Name", f"Name: the administrator '{name}' already exists.")])
        user = get_user_model()(username=name)
        _check_password(password, user)
        user.set_password(password)
        user.save()
        _set_memberships(user, role_groups, servers)
        return user, {"RoleGroups": ["", ", ".join(role_groups)]}
    command = f"New-Administrator -Name {shell_quote(username)} -Password '********'" + _groups_text(role_groups)
    return _audited("New-Administrator", command, username, change)


def set_role_groups(user, role_groups, servers=()):
    def change():
        before = ", ".join(user.role_groups.values_list("name", flat=True))
        _set_memberships(user, role_groups, servers)
        return user, {"RoleGroups": [before, ", ".join(role_groups)]}
    command = f"Set-Administrator {shell_quote(user.username)}" + _groups_text(role_groups)
    return _audited("Set-Administrator", command, user.username, change)


def set_administrator_password(user, password):
    def change():
        _check_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        return user, {}
    command = f"Set-Administrator {shell_quote(user.username)} -Password '********'"
    return _audited("Set-Administrator", command, user.username, change)


def set_administrator_enabled(user, enabled):
    def change():
        caller = current_caller()
        if not enabled and caller is not None and caller.user.pk == user.pk:
            raise ConfigurationError([ParameterError("Enabled", "Enabled: you can't disable your own account.")])
        user.is_active = enabled
        user.save(update_fields=["is_active"])
        return user, {"Enabled": [str(not enabled), str(enabled)]}
    command = f"Set-Administrator {shell_quote(user.username)} -Enabled ${str(enabled).lower()}"
    return _audited("Set-Administrator", command, user.username, change)


def _set_memberships(user, role_groups, servers):
    unknown = [name for name in role_groups if name not in RoleGroup.BUILT_IN]
    if unknown:
        raise ConfigurationError([ParameterError("RoleGroups", f"RoleGroups: '{unknown[0]}' isn't a role group; "
                                                               f"accepted values: {', '.join(RoleGroup.BUILT_IN)}")])
    if RoleGroup.ORGANIZATION_MANAGEMENT not in role_groups:
        _keep_an_organization_manager(user, "RoleGroups")
    groups = {name: RoleGroup.named(name) for name in role_groups}
    RoleGroupMember.objects.filter(user=user).exclude(role_group__name__in=role_groups).delete()
    for group in groups.values():
        member, _ = RoleGroupMember.objects.get_or_create(user=user, role_group=group)
        wanted = servers if group.name == RoleGroup.SERVER_MANAGEMENT else []
        if {server.pk for server in wanted} != set(member.servers.values_list("pk", flat=True)):
            member.servers.set(wanted)
            _drop_scope(member)  # servers chosen by hand: no longer what the scope's filter matched


def _drop_scope(member):
    if member.scope_id is not None:
        member.scope = None
        member.save(update_fields=["scope"])


def _keep_an_organization_manager(user, parameter):
    """Refuse a change that would leave no one able to manage administrators (a superuser counts)."""
    was_member = RoleGroupMember.objects.filter(
        user=user, role_group__name=RoleGroup.ORGANIZATION_MANAGEMENT).exists()
    others = RoleGroupMember.objects.filter(role_group__name=RoleGroup.ORGANIZATION_MANAGEMENT).exclude(user=user)
    superusers = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk)
    if was_member and not others.exists() and not superusers.exists():
        raise ConfigurationError([ParameterError(
            parameter, f"{parameter}: '{user.username}' is the last member of {RoleGroup.ORGANIZATION_MANAGEMENT}; "
                       f"removing it would leave no one able to manage the organization.")])


# --- Add-/Remove-RoleGroupMember and management scopes (the shell's faces of the same memberships) ------------

def add_role_group_member(group_name, member_name, scope_name=None):
    """Add-RoleGroupMember; a Server Management member may be limited to the servers of a management scope."""
    command = f"Add-RoleGroupMember {shell_quote(group_name)} -Member {shell_quote(member_name)}" + (
        f" -CustomConfigWriteScope {shell_quote(scope_name)}" if scope_name else "")

    def change():
        group, user = _role_group(group_name), _administrator(member_name)
        scope = _scope_for(group, scope_name)
        if RoleGroupMember.objects.filter(role_group=group, user=user).exists():
            raise ConfigurationError([ParameterError(
                "Member", f"Member: '{user.username}' is already a member of the role group '{group.name}'.")])
        before = _member_names(group)
        member = RoleGroupMember.objects.create(role_group=group, user=user, scope=scope)
        if scope is not None:
            member.servers.set(_scope_servers(scope))
        return member, {"Members": [before, _member_names(group)]}
    return _audited("Add-RoleGroupMember", command, group_name, change, object_type="RoleGroup")


def remove_role_group_member(group_name, member_name):
    command = f"Remove-RoleGroupMember {shell_quote(group_name)} -Member {shell_quote(member_name)}"

    def change():
        group, user = _role_group(group_name), _administrator(member_name)
        member = RoleGroupMember.objects.filter(role_group=group, user=user).first()
        if member is None:
            raise ConfigurationError([ParameterError(
                "Member", f"Member: '{user.username}' isn't a member of the role group '{group.name}'.")])
        if group.name == RoleGroup.ORGANIZATION_MANAGEMENT:
            _keep_an_organization_manager(user, "Member")
        before = _member_names(group)
        member.delete()
        return None, {"Members": [before, _member_names(group)]}
    return _audited("Remove-RoleGroupMember", command, group_name, change, object_type="RoleGroup")


def new_management_scope(name, server_restriction_filter):
    command = (f"New-ManagementScope -Name {shell_quote(name)} "
               f"-ServerRestrictionFilter {shell_quote(server_restriction_filter)}")

    def change():
        scope_name, text = name.strip(), str(server_restriction_filter).strip()
        if not scope_name or len(scope_name) > 64:
            raise ConfigurationError([ParameterError("Name", "Name: a name of 1 to 64 characters is required.")])
        if ManagementScope.objects.filter(name__iexact=scope_name).exists():
            raise ConfigurationError([ParameterError(
                "Name", f"Name: the management scope '{scope_name}' already exists.")])
        if not text:
            raise ConfigurationError([ParameterError(
                "ServerRestrictionFilter", "ServerRestrictionFilter: a value is required.")])
        _matching_servers(text)  # refuse a filter that can't be read now, not when it is assigned
        scope = ManagementScope.objects.create(name=scope_name, server_restriction_filter=text)
        return scope, {"ServerFilter": ["", text]}
    return _audited("New-ManagementScope", command, name, change, object_type="ManagementScope")


def remove_management_scope(scope):
    command = f"Remove-ManagementScope {shell_quote(scope.name)}"

    def change():
        assigned = sorted(scope.members.values_list("user__username", flat=True))
        if assigned:
            raise ConfigurationError([ParameterError(
                "Identity", f"Identity: the management scope '{scope.name}' can't be removed because it's assigned "
                            f"to {', '.join(assigned)}. Remove those role group members first.")])
        before = scope.server_restriction_filter
        scope.delete()
        return None, {"ServerFilter": [before, ""]}
    return _audited("Remove-ManagementScope", command, scope.name, change, object_type="ManagementScope")


SERVER_FILTER_COLUMNS = {"Name": Column("name"), "Fqdn": Column("fqdn"), "ServerSite": Column("site__name"),
                         "ServerRole": Column("role")}


def _matching_servers(text):
    try:
        return list(OPathFilter(text).apply(TransportServer.objects.all(), SERVER_FILTER_COLUMNS))
    except ParameterError as error:
        message = error.message.removeprefix("Filter: ")
        raise ConfigurationError([ParameterError("ServerRestrictionFilter",
                                                 f"ServerRestrictionFilter: {message}")]) from None


def _scope_servers(scope):
    servers = _matching_servers(scope.server_restriction_filter)
    if not servers:  # an empty server list means every server: a scope that matches none must not grant all
        raise ConfigurationError([ParameterError(
            "CustomConfigWriteScope", f"CustomConfigWriteScope: the management scope '{scope.name}' matches no "
                                      f"server ({scope.server_restriction_filter}).")])
    return servers


def _scope_for(group, scope_name):
    if not scope_name:
        return None
    if group.name != RoleGroup.SERVER_MANAGEMENT:
        raise ConfigurationError([ParameterError(
            "CustomConfigWriteScope", f"CustomConfigWriteScope: only members of {RoleGroup.SERVER_MANAGEMENT} are "
                                      f"limited to servers; '{group.name}' isn't scoped.")])
    scope = ManagementScope.objects.filter(name__iexact=scope_name.strip()).first()
    if scope is None:
        raise ConfigurationError([ParameterError(
            "CustomConfigWriteScope", f"CustomConfigWriteScope: the management scope '{scope_name}' couldn't be "
                                      f"found.")])
    return scope


def _role_group(name):
    try:
        return RoleGroup.named(name)
    except RoleGroup.DoesNotExist:
        raise ConfigurationError([ParameterError(
            "Identity", f"Identity: the role group '{str(name).strip()}' couldn't be found; the role groups are "
                        f"{', '.join(RoleGroup.BUILT_IN)}.")]) from None


def _administrator(name):
    text = str(name).strip()
    user = get_user_model().objects.filter(username__iexact=text).first()
    if user is None:
        raise ConfigurationError([ParameterError("Member", f"Member: the user '{text}' couldn't be found.")])
    return user


def _member_names(group):
    return ", ".join(sorted(group.members.values_list("username", flat=True), key=str.lower))


def _groups_text(role_groups):
    return f" -RoleGroups {','.join(shell_quote(name) for name in role_groups)}" if role_groups else ""
