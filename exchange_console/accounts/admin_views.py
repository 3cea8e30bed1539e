"""Organization Management's pages: the administrators and their role groups, and the admin audit log."""
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from exchange_console.accounts import services
from exchange_console.accounts.forms import AdministratorForm, AuditSearchForm, NewAdministratorForm
from exchange_console.accounts.models import AdminAuditEntry, RoleGroup
from exchange_console.accounts.rbac import can_view_audit_log, is_organization_manager, memberships
from exchange_console.configuration.history import return_script, state_at
from exchange_console.services import ConfigurationError


def _require_organization_manager(request):
    if not is_organization_manager(request.user):
        raise PermissionDenied("Only Organization Management manages administrators.")


def _apply_errors(form, error):
    for parameter, texts in error.by_parameter().items():
        field = {"Name": "username", "Password": "password", "RoleGroups": "role_groups",
                 "Enabled": "enabled"}.get(parameter)
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


@require_GET
@login_required
def administrators(request):
    _require_organization_manager(request)
    users = get_user_model().objects.order_by("username").prefetch_related("role_memberships__role_group",
                                                                           "role_memberships__servers")
    return render(request, "accounts/administrators.html", {"administrators": users})


@require_http_methods(["GET", "POST"])
@login_required
def new_administrator(request):
    _require_organization_manager(request)
    form = NewAdministratorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.new_administrator(data["username"], data["password"], data["role_groups"], data["servers"])
        except ConfigurationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"The administrator '{data['username']}' was created.")
            return redirect("administrators")
    return render(request, "accounts/administrator_form.html", {"form": form, "title": "New Administrator"})


@require_http_methods(["GET", "POST"])
@login_required
def administrator(request, pk):
    _require_organization_manager(request)
    user = get_object_or_404(get_user_model(), pk=pk)
    roles = memberships(user)
    initial = {"role_groups": list(roles), "enabled": user.is_active,
               "servers": list(roles.get(RoleGroup.SERVER_MANAGEMENT, ()))}
    form = AdministratorForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            _save_administrator(user, form.cleaned_data, initial)
        except ConfigurationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"The administrator '{user.username}' was changed.")
            return redirect("administrators")
    return render(request, "accounts/administrator_form.html",
                  {"form": form, "title": f"{user.username} Properties", "administrator": user})


def _save_administrator(user, data, initial):
    if sorted(data["role_groups"]) != sorted(initial["role_groups"]) or \
            sorted(server.pk for server in data["servers"]) != sorted(initial["servers"]):
        services.set_role_groups(user, data["role_groups"], data["servers"])
    if data["enabled"] != initial["enabled"]:
        services.set_administrator_enabled(user, data["enabled"])
    if data["password"]:
        services.set_administrator_password(user, data["password"])


@require_GET
@login_required
def audit_log(request):
    if not can_view_audit_log(request.user):
        raise PermissionDenied("Only Organization Management and View-Only Organization Management see the audit log.")
    form = AuditSearchForm(request.GET)  # every filter is optional: no filter lists the newest entries
    entries = form.entries()[:500] if form.is_valid() else []
    return render(request, "accounts/audit_log.html", {"form": form, "entries": entries})


@require_GET
@login_required
def audit_snapshot(request, pk):
    """The organization as it was just after one entry of the audit log, and the script that returns to it
    (exchange_console.configuration.history: Get-OrganizationSnapshot's, as a page)."""
    if not can_view_audit_log(request.user):
        raise PermissionDenied("Only Organization Management and View-Only Organization Management see the audit log.")
    entry = get_object_or_404(AdminAuditEntry, pk=pk)
    script = return_script(entry)
    if request.GET.get("download"):
        response = HttpResponse(script, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="return-to-audit-entry-{entry.pk}.ps1"'
        return response
    objects = [(item["noun"], item["identity"] or item["noun"], sorted(item["values"].items()))
               for item in state_at(entry)]
    return render(request, "accounts/audit_snapshot.html", {"entry": entry, "objects": objects, "script": script})
