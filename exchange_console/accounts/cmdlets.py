"""Search-AdminAuditLog: the admin audit log with Exchange 2010's parameters and result properties. Role groups
(Get-RoleGroup, Get-/Add-/Remove-RoleGroupMember) and Server Management's management scopes
(New-/Get-/Remove-ManagementScope): every change goes through accounts/services.py, as the Administrators page's."""
from datetime import timedelta
from functools import partial

from django.db.models import Q

from exchange_console.accounts import services
from exchange_console.accounts.models import AdminAuditEntry, ManagementScope, RoleGroup
from exchange_console.accounts.rbac import AccessDenied, can_view_audit_log
from exchange_console.configuration.history import return_script, state_at
from exchange_console.services import current_caller
from exchange_console.shell.cmdlets import CHANGE_SWITCHES, apply
from exchange_console.shell.errors import ObjectNotFoundError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import PSObject, to_string, truthy, unroll
from exchange_console.toolbox.cmdlets import parse_date


def audit_record(entry):
    return PSObject({
        "ObjectModified": entry.object_identity, "CmdletName": entry.cmdlet, "CmdletParameters": entry.command,
        "ModifiedProperties": [f"{name}: {before} -> {after}" for name, (before, after) in entry.changes.items()],
        "Caller": entry.caller, "Succeeded": entry.succeeded, "Error": entry.error,
        "RunDate": entry.when.strftime("%m/%d/%Y %H:%M:%S"), "OriginatingServer": entry.origin,
        "Identity": str(entry.pk),  # what Get-OrganizationSnapshot -AuditEntry takes
    })


def _check_audit_reader(cmdlet_name):
    caller = current_caller()
    if caller is not None and not can_view_audit_log(caller.user):
        raise AccessDenied(f"Access denied: {caller.user.get_username()} isn't allowed to run {cmdlet_name}.")


@cmdlet("Search-AdminAuditLog", Parameter("Cmdlets", type_name="System.String[]"),
        Parameter("ObjectIds", type_name="System.String[]"), Parameter("UserIds", type_name="System.String[]"),
        Parameter("Parameters", type_name="System.String[]"), Parameter("StartDate", type_name="System.DateTime"),
        Parameter("EndDate", type_name="System.DateTime"), Parameter("IsSuccess", type_name="System.Boolean"),
        Parameter("ResultSize", type_name="System.Int32"))
def search_admin_audit_log(invocation):
    _check_audit_reader("Search-AdminAuditLog")
    entries = AdminAuditEntry.objects.all()
    for parameter, field in (("Cmdlets", "cmdlet"), ("ObjectIds", "object_identity"), ("UserIds", "caller")):
        if parameter in invocation:
            matches = Q()
            for name in (to_string(item) for item in unroll(invocation.get(parameter))):
                matches |= Q(**{f"{field}__iexact": name})
            entries = entries.filter(matches)
    for name in (to_string(item) for item in unroll(invocation.get("Parameters", []))):
        entries = entries.filter(command__icontains=f"-{name} ")
    if "StartDate" in invocation:
        entries = entries.filter(when__gte=parse_date("StartDate", invocation.get("StartDate")))
    if "EndDate" in invocation:
        entries = entries.filter(when__lt=parse_date("EndDate", invocation.get("EndDate")) + timedelta(seconds=1))
    if "IsSuccess" in invocation:
        entries = entries.filter(succeeded=truthy(invocation.get("IsSuccess")))
    limit = int(to_string(invocation.get("ResultSize", 1000)))
    return [audit_record(entry) for entry in entries[:limit]]


@cmdlet("Get-OrganizationSnapshot", Parameter("AuditEntry", position=0, mandatory=True, pipeline=True),
        Parameter("ReturnScript", switch=True))
def get_organization_snapshot(invocation):
    """This product's own (configuration/history.py): the organization's objects as they were just after an entry
    of the admin audit log (its Identity, or the entry piped from Search-AdminAuditLog); with -ReturnScript, the EMS
    commands that take the configuration back there."""
    _check_audit_reader("Get-OrganizationSnapshot")
    entry = _audit_entry(invocation.get("AuditEntry"))
    if invocation.get("ReturnScript"):
        return return_script(entry).splitlines()
    return [_View({"ObjectClass": item["noun"], "Identity": item["identity"] or item["noun"], **item["values"]},
                  ("ObjectClass", "Identity")) for item in state_at(entry)]


def _audit_entry(value):
    text = to_string(value.get("Identity") if isinstance(value, PSObject) else value).strip()
    entry = AdminAuditEntry.objects.filter(pk=int(text)).first() if text.isdigit() else None
    if entry is None:
        raise ObjectNotFoundError(text, "the admin audit log")
    return entry


# --- Role groups and management scopes ------------------------------------------------------------------------

class _View(PSObject):
    """An object whose table shows Exchange's default columns of its kind rather than every property."""

    def __init__(self, properties, columns):
        super().__init__(properties)
        self.columns = columns

    def default_columns(self):
        return list(self.columns)


def role_group_record(group):
    members = sorted(group.members.values_list("username", flat=True), key=str.lower)
    return _View({"Name": group.name, "Identity": group.name, "DisplayName": group.name, "Members": members,
                  "ManagedBy": [RoleGroup.ORGANIZATION_MANAGEMENT], "RoleGroupType": "Standard",
                  "Description": group.description, "IsValid": True},
                 ("Name", "Members", "ManagedBy"))


def member_record(member):
    scope = member.scope.name if member.scope else ""
    servers = sorted(server.name for server in member.servers.all())
    return _View({"Name": member.user.username, "Identity": member.user.username, "RecipientType": "User",
                  "CustomConfigWriteScope": scope, "Servers": servers},
                 ("Name", "RecipientType"))


def scope_record(scope):
    return _View({"Name": scope.name, "Identity": scope.name, "ScopeRestrictionType": "ServerScope",
                  "Exclusive": False, "RecipientRoot": None, "RecipientFilter": None,
                  "ServerFilter": scope.server_restriction_filter, "DatabaseFilter": None, "IsValid": True},
                 ("Name", "ScopeRestrictionType", "Exclusive", "RecipientRoot", "RecipientFilter", "ServerFilter"))


def _named(value):
    """The name an identity gives: text, or a piped role group, member or scope's Identity."""
    return to_string(value.get("Identity") if isinstance(value, PSObject) else value).strip()


def _role_group(identity):
    try:
        return RoleGroup.named(_named(identity))
    except RoleGroup.DoesNotExist:
        raise ObjectNotFoundError(_named(identity), "the role groups of this organization") from None


def _scope(identity, location="the management scopes of this organization"):
    text = _named(identity)
    scope = ManagementScope.objects.filter(name__iexact=text).first()
    if scope is None:
        raise ObjectNotFoundError(text, location)
    return scope


@cmdlet("Get-RoleGroup", Parameter("Identity", position=0, pipeline=True))
def get_role_group(invocation):
    if "Identity" in invocation or invocation.input is not None:
        return [role_group_record(_role_group(identity)) for identity in invocation.each("Identity")]
    return [role_group_record(RoleGroup.named(name)) for name in sorted(RoleGroup.BUILT_IN)]


@cmdlet("Get-RoleGroupMember", Parameter("Identity", position=0, pipeline=True, mandatory=True))
def get_role_group_member(invocation):
    found = []
    for identity in invocation.each("Identity"):
        members = _role_group(identity).rolegroupmember_set.select_related("user", "scope").prefetch_related(
            "servers").order_by("user__username")
        found.extend(member_record(member) for member in members)
    return found


def _member_change(invocation, verb, action, change, confirm_by_default=False):
    """Add-/Remove-RoleGroupMember: -Member is one user; the group's name goes to the write path as typed, so an
    unknown group is refused there (and audited) like any other refusal."""
    member = _named(invocation.get("Member"))
    planned = [(f'{verb} "{member}" {action} role group "{_named(identity)}".', partial(change, _named(identity)))
               for identity in invocation.each("Identity")]
    apply(invocation, planned, confirm_by_default=confirm_by_default)
    return []


@cmdlet("Add-RoleGroupMember", Parameter("Identity", position=0, pipeline=True, mandatory=True),
        Parameter("Member", mandatory=True), Parameter("CustomConfigWriteScope"), *CHANGE_SWITCHES)
def add_role_group_member(invocation):
    """Add-RoleGroupMember "Server Management" -Member kim [-CustomConfigWriteScope "HUB01 only"]: the scope
    limits the member to the servers its filter names (Exchange assigns it with New-ManagementRoleAssignment)."""
    scope = _named(invocation.get("CustomConfigWriteScope")) if "CustomConfigWriteScope" in invocation else None
    return _member_change(invocation, "Adding", "to", lambda group: services.add_role_group_member(
        group, _named(invocation.get("Member")), scope))


@cmdlet("Remove-RoleGroupMember", Parameter("Identity", position=0, pipeline=True, mandatory=True),
        Parameter("Member", mandatory=True), *CHANGE_SWITCHES)
def remove_role_group_member(invocation):
    return _member_change(invocation, "Removing", "from", lambda group: services.remove_role_group_member(
        group, _named(invocation.get("Member"))), confirm_by_default=True)


@cmdlet("New-ManagementScope", Parameter("Name", position=0, mandatory=True),
        Parameter("ServerRestrictionFilter", mandatory=True), *CHANGE_SWITCHES)
def new_management_scope(invocation):
    name = to_string(invocation.get("Name"))
    created = apply(invocation, [(f'Creating management scope "{name}".', partial(
        services.new_management_scope, name, to_string(invocation.get("ServerRestrictionFilter"))))])
    return [scope_record(scope) for scope in created]


@cmdlet("Get-ManagementScope", Parameter("Identity", position=0, pipeline=True))
def get_management_scope(invocation):
    if "Identity" in invocation or invocation.input is not None:
        return [scope_record(_scope(identity)) for identity in invocation.each("Identity")]
    return [scope_record(scope) for scope in ManagementScope.objects.all()]


@cmdlet("Remove-ManagementScope", Parameter("Identity", position=0, pipeline=True, mandatory=True),
        *CHANGE_SWITCHES)
def remove_management_scope(invocation):
    scopes = [_scope(identity) for identity in invocation.each("Identity")]
    apply(invocation, [(f'Removing management scope "{scope.name}".', partial(services.remove_management_scope, scope))
                       for scope in scopes], confirm_by_default=True)
    return []
