"""The console's pages: tree, result pane and action pane; properties dialogs; Enable/Disable/Remove; the
New dialogs and the completion page. Every view serves the full page, or with htmx the part that changed.
"""
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from exchange_console.accounts.rbac import can_change, can_change_object
from exchange_console.console import completion
from exchange_console.console.changes import change_stamp
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.console.dialogs import DOMAIN_TYPES, PropertiesForm, SchemaForm, edit_rows
from exchange_console.console.edge import (
    SYNCHRONIZED_LIST, local_subscription, managed_elsewhere, synchronized_lock,
)
from exchange_console.console.fields import FieldSpec as F
from exchange_console.console.kinds import (
    HUB_ONLY_TABS, KINDS, MAXIMUM_LIMIT, MAXIMUM_TO_DISPLAY, ORGANIZATION_TABS, RESULT_LISTS, properties_url, row_urls,
    table,
)
from exchange_console.organization.models import Installation, TransportServer
from exchange_console.organization.schemas import TRANSPORT_SERVER

CHANGED = "configChanged"   # the htmx event that makes the visible list refresh itself

NEW_DIALOGS = {
    "accepted-domain": ("New Accepted Domain", (
        F("Name", "Name:"), F("DomainName", "Accepted Domain:"),
        F("DomainType", "This accepted domain is:", DOMAIN_TYPES, radio=True))),
    "remote-domain": ("New Remote Domain", (
        F("Name", "Name:"), F("DomainName", "Domain name:"))),
    "mailbox": ("New Mailbox", (
        F("Name", "Name:"), F("PrimarySmtpAddress", "E-mail address:"), F("Password", "Password:", secret=True))),
}

TOOLBOX = (("Queue Viewer", "toolbox:queues"), ("Message Tracking", "toolbox:tracking"),
           ("Protocol Logs", "toolbox:protocol-logs"), ("Mail Route", "toolbox:mail-route"),
           ("Mail Flow Topology", "toolbox:topology"))


def list_url(kind_slug, obj):
    """The page whose list shows this object (or, for organization-wide kinds, objects of its kind)."""
    if kind_slug == "receive-connector":
        return reverse("console:server", args=[obj.server.name])
    if kind_slug == "transport-server":
        return reverse("console:server", args=[obj.name])
    if kind_slug == "mailbox":
        return reverse("console:mailboxes")
    tab = {"send-connector": "send-connectors", "foreign-connector": "foreign-connectors",
           "accepted-domain": "accepted-domains", "remote-domain": "remote-domains",
           "transport-config": "global-settings", "edge-subscription": "edge-subscriptions",
           "routing-group-connector": "routing-group-connectors"}[kind_slug]
    return reverse("console:organization", args=[tab])


PARTS = {"result-list": "console/result_list.html", "more-rows": "console/result_rows.html"}


def pane(request, template_context, node):
    """The whole page; with htmx the console (tree and panes), just the list that asked, or its next rows."""
    context = {"node": node, "on_edge": Installation.is_edge(), **template_context}
    if request.htmx and not request.htmx.history_restore_request:
        template = PARTS.get(request.htmx.target, "console/console.html")
    else:
        template = "console/page.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def whole_number(text, default, lowest, highest):
    try:
        return min(max(int(text), lowest), highest)
    except ValueError:
        return default


def list_choices(request, result):
    """What the administrator chose for a list: the filter (?q=), the sort column (?sort=, ?dir=desc), the
    maximum number of objects to display (?max=) and the first row of the page wanted (?start=)."""
    sort = request.GET.get("sort", "")
    maximum = whole_number(request.GET.get("max", ""), MAXIMUM_TO_DISPLAY, 1, MAXIMUM_LIMIT)
    return {"query": request.GET.get("q", "").strip(),
            "sort": sort if sort in [column.title for column in result.columns] else result.columns[0].title,
            "descending": request.GET.get("dir") == "desc", "maximum": maximum,
            "start": whole_number(request.GET.get("start", ""), 0, 0, maximum)}


def list_link(path, choices, **changes):
    """The list's URL with the same choices but these changes (a default or empty one left out)."""
    params = {"q": choices["query"], "sort": choices["sort"], "dir": "desc" if choices["descending"] else "",
              "max": "" if choices["maximum"] == MAXIMUM_TO_DISPLAY else choices["maximum"], **changes}
    return f"{path}?{urlencode({name: value for name, value in params.items() if value not in ('', None)})}"


def list_context(request, result, **scope):
    """One page of the list's rows as the administrator chose them, and the links that keep those choices."""
    choices = list_choices(request, result)
    view = table(result, choices["query"], choices["sort"], choices["descending"], choices["maximum"],
                 choices["start"], **scope)
    build = row_urls(result.kind)
    synchronized = bool(synchronized_lock(result.kind.schema))
    sort_links = [(column.title, list_link(request.path, choices, sort=column.title, dir="desc" if (
        column.title == choices["sort"] and not choices["descending"]) else "")) for column in result.columns]
    return {**choices, "result": result, "rows": [build(obj, cells) for obj, cells in view.rows],
            "count": view.count, "more_objects": view.more, "sort_links": sort_links, "next_start": view.next_start,
            "next_url": list_link(request.path, choices, start=view.next_start) if view.next_start else "",
            "list_path": request.path,
            "may_change_list": not synchronized and not result.kind.shell_only and can_change(
                request.user, result.kind.schema.noun, scope.get("server")),
            "synchronized": SYNCHRONIZED_LIST if synchronized else "",
            "stamp": change_stamp(result, scope.get("server"))}


@require_GET
@login_required
def organization(request, tab):
    tabs = organization_tabs()
    if tab not in tabs:
        raise Http404("No such tab")
    context = list_context(request, RESULT_LISTS[tab])
    context["tabs"] = [RESULT_LISTS[slug] for slug in tabs]
    # On a subscribed Edge, what the New... actions would create is EdgeSync's to manage.
    context["new_locked"] = bool(synchronized_lock(SEND_CONNECTOR))
    return pane(request, context, "organization")


def organization_tabs():
    """The tabs of Organization Configuration > Hub Transport; an Edge's own console has no Edge subscriptions."""
    if Installation.is_edge():
        return tuple(slug for slug in ORGANIZATION_TABS if slug not in HUB_ONLY_TABS)
    return ORGANIZATION_TABS


@require_GET
@login_required
def server(request, name=None):
    servers = transport_servers()
    selected = next((s for s in servers if s.name == name), None) if name else next(
        (s for s in servers if s.managed_here), None)
    if name and selected is None:
        raise Http404("No such transport server")
    context = list_context(request, RESULT_LISTS["receive-connectors"], server=selected)
    context.update(servers=server_list(request, servers), selected_server=selected,
                   server_query=request.GET.get("servers_q", "").strip(),
                   server_sort=request.GET.get("servers_sort", "Name"), server_columns=list(SERVER_COLUMNS),
                   managed_elsewhere=managed_elsewhere(TRANSPORT_SERVER, selected) if selected else "",
                   edge_subscription=local_subscription())
    return pane(request, context, "servers")


ROLE_NAMES = {TransportServer.HUB: "Hub Transport", TransportServer.EDGE: "Edge Transport"}
WORKER_ON_THE_EDGE = "Managed on the Edge Transport server"


def transport_servers():
    """Server Configuration's servers: in the organization its Hubs and the Edges subscribed to it (read-only:
    they are managed on the Edge); in an Edge's own console, that Edge."""
    edge_database = Installation.is_edge()
    servers = TransportServer.objects.select_related("site")
    servers = list(servers.filter(role=TransportServer.EDGE) if edge_database else servers)
    for server in servers:
        server.managed_here = server.is_edge == edge_database   # runs_here, without a query per row
    return servers


SERVER_COLUMNS = {"Name": lambda s: s.name, "Role": lambda s: ROLE_NAMES[s.role], "Site": lambda s: s.site.name,
                  "FQDN": lambda s: s.fqdn,
                  "Transport Worker": lambda s: s.worker_health if s.managed_here else WORKER_ON_THE_EDGE}


def server_list(request, servers):
    """The upper list of Server Configuration > Hub Transport, filtered and sorted like the other lists."""
    query = request.GET.get("servers_q", "").strip().lower()
    sort = request.GET.get("servers_sort", "Name")
    cell = SERVER_COLUMNS.get(sort.lstrip("-"), SERVER_COLUMNS["Name"])
    for s in servers:
        s.cells = [value(s) for value in SERVER_COLUMNS.values()]
    shown = [s for s in servers if not query or any(query in text.lower() for text in s.cells)]
    return sorted(shown, key=lambda s: cell(s).lower(), reverse=sort.startswith("-"))


@require_GET
@login_required
def mailboxes(request):
    if Installation.is_edge():
        raise Http404("An Edge Transport server has no mailboxes")
    return pane(request, list_context(request, RESULT_LISTS["mailboxes"]), "mailboxes")


@require_GET
@login_required
def toolbox(request):
    tools = []
    for title, url_name in TOOLBOX:
        try:
            tools.append((title, reverse(url_name)))
        except NoReverseMatch:  # a tool whose app isn't installed
            continue
    return pane(request, {"tools": tools}, "toolbox")


def _object(kind_slug, pk):
    kind = KINDS.get(kind_slug)
    if kind is None:
        raise Http404("No such kind of object")
    return kind, get_object_or_404(kind.queryset(), pk=pk)


def _dialog(request, form, kind, obj, status=200, command="", review=None, saved_findings=()):
    managed = managed_elsewhere(kind.schema, obj) or kind.shell_only
    for form_field in form.fields.values() if managed else ():
        form_field.disabled = True   # shown as it is, like the settings nobody may change
    context = {"form": form, "kind": kind, "obj": obj, "command": command, "managed_elsewhere": managed,
               "action_url": properties_url(kind, obj), "cancel_url": list_url(kind.slug, obj),
               "may_change": can_change_object(request.user, kind.schema, obj) and not managed,
               "review": review, "confirmation": completion.CONFIRMATION, "saved_findings": saved_findings}
    template = "console/properties.html" if request.htmx else "console/properties_page.html"
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def properties(request, kind_slug, pk):
    kind, obj = _object(kind_slug, pk)
    if request.method == "GET":
        return _dialog(request, PropertiesForm(kind.schema, obj), kind, obj)
    if "rows-add" in request.POST or "rows-remove" in request.POST:
        form = PropertiesForm(kind.schema, obj, edit_rows(request.POST))
        form.show_errors = False
        return _dialog(request, form, kind, obj)
    form = PropertiesForm(kind.schema, obj, request.POST)
    if managed := managed_elsewhere(kind.schema, obj) or kind.shell_only:   # the dialog offered no OK; refuse a post
        form.is_valid()   # cleaned first: the refusal is added to the posted form's errors
        form.add_error(None, managed)
        return _dialog(request, form, kind, obj, status=403)
    if not form.is_valid():
        return _dialog(request, form, kind, obj)
    changes = form.changed_values()
    command, saved_findings = "", []
    if changes:
        version = form.cleaned_data["version"]
        review = completion.Review(completion.findings_before("Set", kind.schema, changes, obj, version), request.POST)
        if not review.ready:   # the findings are shown before the save; errors wait for the confirmation
            if review.refusal:
                form.add_error(None, review.refusal)
            return _dialog(request, form, kind, obj, review=review)
        result, _ = completion.apply("Set", kind.schema, changes, obj, version, force=bool(review.errors))
        if not result.succeeded:
            form.add_configuration_errors(result.refusal)
            return _dialog(request, form, kind, obj, command=result.command)
        command, saved_findings = result.command, getattr(result.obj, "findings", [])
        messages.success(request, command)
        for finding in saved_findings:
            messages.warning(request, f"{finding.severity}: {finding.message}")
    return _after_save(request, kind, obj, command, saved_findings)


def _after_save(request, kind, obj, command, saved_findings=()):
    if request.POST.get("action") == "apply":
        obj = get_object_or_404(kind.queryset(), pk=obj.pk)
        response = _dialog(request, PropertiesForm(kind.schema, obj), kind, obj, command=command,
                           saved_findings=saved_findings)
    elif request.htmx:
        response = HttpResponse("")
    else:
        return redirect(list_url(kind.slug, obj))
    response["HX-Trigger"] = CHANGED
    return response


def _actionable(kind_slug, pk, action):
    kind, obj = _object(kind_slug, pk)
    allowed = kind.removable if action == "remove" else kind.toggles and action in ("enable", "disable")
    if not allowed:
        raise Http404("No such action")
    return kind, obj


@require_GET
@login_required
def confirm_action(request, kind_slug, pk, action):
    """The confirmation as a page, for a browser without script (the console asks with confirm())."""
    kind, obj = _actionable(kind_slug, pk, action)
    return render(request, "console/confirm_page.html", {
        "kind": kind, "obj": obj, "action": action, "cancel_url": list_url(kind.slug, obj),
        "action_url": reverse("console:object-action", args=[kind.slug, obj.pk, action])})


@require_POST
@login_required
def object_action(request, kind_slug, pk, action):
    """Enable, Disable or Remove; with htmx the visible list refreshes itself, else back to the list."""
    kind, obj = _actionable(kind_slug, pk, action)
    back = list_url(kind.slug, obj)
    if action == "remove":
        remove = kind.remove and (lambda: kind.remove(obj))
        result, _ = completion.apply("Remove", kind.schema, {}, obj, change=remove)
    else:
        result, _ = completion.apply("Set", kind.schema, {"Enabled": action == "enable"}, obj)
    if result.succeeded:
        messages.success(request, result.command)
    else:
        messages.error(request, f"{result.command}: {result.error}")
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Trigger": CHANGED})
    return redirect(back)


@require_http_methods(["GET", "POST"])
@login_required
def new_object_dialog(request, kind_slug):
    if kind_slug == "mailbox" and Installation.is_edge():
        raise Http404("An Edge Transport server has no mailboxes")
    heading, specs = NEW_DIALOGS[kind_slug]
    kind, cancel_url = KINDS[kind_slug], list_url(kind_slug, None)
    form = SchemaForm(kind.schema, [("General", specs)], request.POST or None, creating=True)
    command = ""
    if request.method == "POST" and form.is_valid():
        values = {name: value for name, value in form.cleaned_data.items() if value not in ("", None)}
        result = completion.run(request, "New", kind.schema, values, heading=heading, finish_url=cancel_url)
        if result.succeeded:
            return redirect(result.url)
        form.add_configuration_errors(result.refusal)
        command = result.command
    return render(request, "console/new_dialog.html", {
        "form": form, "heading": heading, "cancel_url": cancel_url, "command": command})


@require_GET
@login_required
def completion_page(request, token):
    result = request.session.get("completions", {}).get(token)
    if result is None:
        raise Http404("This completion page has expired")
    return render(request, "console/completion.html", {"result": result})

