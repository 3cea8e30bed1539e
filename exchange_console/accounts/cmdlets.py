"""Search-AdminAuditLog: the admin audit log with Exchange 2010's parameters and result properties."""
from datetime import timedelta

from django.db.models import Q

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.accounts.rbac import AccessDenied, can_view_audit_log
from exchange_console.services import current_caller
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import PSObject, to_string, truthy, unroll
from exchange_console.toolbox.cmdlets import parse_date


def audit_record(entry):
    return PSObject({
        "ObjectModified": entry.object_identity, "CmdletName": entry.cmdlet, "CmdletParameters": entry.command,
        "ModifiedProperties": [f"{name}: {before} -> {after}" for name, (before, after) in entry.changes.items()],
        "Caller": entry.caller, "Succeeded": entry.succeeded, "Error": entry.error,
        "RunDate": entry.when.strftime("%m/%d/%Y %H:%M:%S"), "OriginatingServer": entry.origin,
    })


@cmdlet("Search-AdminAuditLog", Parameter("Cmdlets", type_name="System.String[]"),
        Parameter("ObjectIds", type_name="System.String[]"), Parameter("UserIds", type_name="System.String[]"),
        Parameter("Parameters", type_name="System.String[]"), Parameter("StartDate", type_name="System.DateTime"),
        Parameter("EndDate", type_name="System.DateTime"), Parameter("IsSuccess", type_name="System.Boolean"),
        Parameter("ResultSize", type_name="System.Int32"))
def search_admin_audit_log(invocation):
    caller = current_caller()
    if caller is not None and not can_view_audit_log(caller.user):
        raise AccessDenied(f"Access denied: {caller.user.get_username()} isn't allowed to run Search-AdminAuditLog.")
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

