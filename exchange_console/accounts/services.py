"""The one write path for administrator accounts and their role groups; each change is authorized (only
Organization Management manages administrators) and recorded in the admin audit log like any other."""
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.accounts.rbac import AccessDenied, is_organization_manager
from exchange_console.lib.errors import ParameterError
from exchange_console.params import shell_quote
from exchange_console.services import ConfigurationError, current_caller


def _authorize(cmdlet):
    caller = current_caller()
    if caller is not None and not is_organization_manager(caller.user):
        raise AccessDenied(f"Access denied: {caller.user.get_username()} isn't allowed to run {cmdlet}. "
                           f"Only Organization Management manages administrators.")


def _audit(cmdlet, command, identity, error=None, changes=None):
    caller = current_caller()
    if caller is not None:
        AdminAuditEntry.objects.create(
            caller=caller.user.get_username(), origin=caller.origin, cmdlet=cmdlet, command=command,
            object_type="Administrator", object_identity=identity, succeeded=error is None,
            error="" if error is None else str(error), changes=changes or {})


def _audited(cmdlet, command, identity, change):
    try:
        with transaction.atomic():
            _authorize(cmdlet)
            result, changes = change()
            _audit(cmdlet, command, identity, changes=changes)
        return result
    except (ConfigurationError, AccessDenied) as error:
        _audit(cmdlet, command, identity, error=error)
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
    groups = {name: RoleGroup.named(name) for name in role_groups}
    RoleGroupMember.objects.filter(user=user).exclude(role_group__name__in=role_groups).delete()
    for group in groups.values():
        member, _ = RoleGroupMember.objects.get_or_create(user=user, role_group=group)
        member.servers.set(servers if group.name == RoleGroup.SERVER_MANAGEMENT else [])


def _groups_text(role_groups):
    return f" -RoleGroups {','.join(shell_quote(name) for name in role_groups)}" if role_groups else ""
