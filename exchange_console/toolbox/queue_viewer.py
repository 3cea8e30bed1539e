"""Toolbox > Queue Viewer: the Queues and Messages tabs of every transport server or one, filtered with the
same OPath filters as Get-Queue/Get-Message, sorted, paged, with bulk actions, CSV export and live counts."""
import csv
import hashlib
from urllib.parse import urlencode
from email.parser import BytesHeaderParser

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from exchange_console.accounts.rbac import can_change_object
from exchange_console.lib.errors import ParameterError
from exchange_console.organization.models import TransportServer
from exchange_console.queues import actions
from exchange_console.queues.filters import OPathFilter
from transport.queue.models import SUBJECT_SORT_KEY, DeliveryQueue, QueuedMessage, QueuedRecipient
from exchange_console.queues.schemas import MESSAGE, MESSAGE_COLUMNS, MESSAGE_COUNT, QUEUE, QUEUE_COLUMNS
from exchange_console.services import ConfigurationError
from exchange_console.shell.values import ConfigRecord
from exchange_console.toolbox import logs, samples
from transport import dispatch

PAGE_SIZE = 100
CHARTED_SERVERS = 10  # as many series as a chart keeps apart by colour
TABS = {"queues": (QUEUE, QUEUE_COLUMNS), "messages": (MESSAGE, MESSAGE_COLUMNS)}
COLUMNS = {
    "queues": ("Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain", "NextRetryTime", "LastError"),
    "messages": ("FromAddress", "Subject", "Size", "Status", "Queue", "DateReceived", "LastError", "Recipients"),
}
SORT_FIELDS = {
    "queues": {"Identity": "id", "DeliveryType": "delivery_type", "Status": "status", "MessageCount": "count",
               "NextHopDomain": "next_hop_domain", "NextRetryTime": "next_retry_time", "LastError": "last_error"},
    "messages": {"FromAddress": "from_address", "Subject": SUBJECT_SORT_KEY, "Size": "size", "Status": "status",
                 "Queue": "queue_id", "DateReceived": "date_received", "LastError": "last_error"},
}
QUEUE_ACTIONS = {"retry": actions.retry_queue, "suspend": actions.suspend_queue, "resume": actions.resume_queue}
MESSAGE_ACTIONS = {"suspend": actions.suspend_message, "resume": actions.resume_message,
                   "remove-ndr": lambda message: actions.remove_message(message, True),
                   "remove": lambda message: actions.remove_message(message, False)}


class ViewerState:
    """What the page shows, read from its query string: tab, server, filter, sort, page, selection."""

    def __init__(self, params):
        self.tab = params.get("tab") if params.get("tab") in TABS else "queues"
        self.server = params.get("server", "")
        self.filter = params.get("filter", "").strip()
        sort = params.get("sort", "")
        self.sort = sort if sort.lstrip("-") in SORT_FIELDS[self.tab] else ""
        self.page = params.get("page", "1")
        self.selected = {int(pk) for pk in params.getlist("selected") if pk.isdigit()}

    def link(self, **changes):
        """This view's query string with some values changed; empty values are left out."""
        values = {"tab": self.tab, "server": self.server, "filter": self.filter, "sort": self.sort, **changes}
        return "?" + urlencode({name: value for name, value in values.items() if value})

    def links(self, columns, page):
        sort = [(column, self.link(sort="-" + column if self.sort == column else column)) for column in columns]
        return {"queues": self.link(tab="queues", filter="", sort=""), "export": self.link(),
                "messages": self.link(tab="messages", filter="", sort=""), "sort": sort,
                "previous": page and page.has_previous() and self.link(page=page.previous_page_number()),
                "next": page and page.has_next() and self.link(page=page.next_page_number())}

    def queryset(self):
        if self.tab == "queues":
            found = DeliveryQueue.objects.select_related("server").annotate(count=MESSAGE_COUNT).order_by(
                "server__name", "id")
            server_field = "server__name__iexact"
        else:
            found = QueuedMessage.objects.select_related("queue__server").prefetch_related("recipients")
            server_field = "queue__server__name__iexact"
        if self.server:
            found = found.filter(**{server_field: self.server})
        if self.sort:
            key = SORT_FIELDS[self.tab][self.sort.lstrip("-")]
            key = F(key) if isinstance(key, str) else key
            found = found.order_by(key.desc() if self.sort.startswith("-") else key.asc(), "id")
        return found

    def objects(self):
        """The objects shown, filtered as Get-Queue/Get-Message -Filter filters them (one query)."""
        if not self.filter:
            return self.queryset()
        return OPathFilter(self.filter).apply(self.queryset(), TABS[self.tab][1])

    def keys(self, number):
        """The primary keys of page `number`, in order, without counting the list: the sort reads keys alone
        (along an index where there is one) instead of whole rows with their queue and server."""
        start = (number - 1) * PAGE_SIZE
        return list(self.objects().prefetch_related(None).values_list("pk", flat=True)[start:start + PAGE_SIZE])

    def page_number(self):
        return int(self.page) if self.page.isdigit() and int(self.page) > 0 else 1

    def shown(self, keys):
        """The objects of `keys` ({pk: object}) with what their rows show: queue and server, message count or
        recipients."""
        return self.queryset().in_bulk(keys)

    def version(self, keys, shown):
        """A short hash of everything the rows of `keys` show: the live refresh sends it back, and while it
        holds the answer is "nothing changed"."""
        fields = [field.attname for field in self.queryset().model._meta.concrete_fields]
        recipients = (lambda obj: [(r.address, r.last_error) for r in obj.recipients.all()]) if (
            self.tab == "messages") else (lambda obj: obj.count)
        rows = [(*(getattr(obj, name) for name in fields), recipients(obj))
                for obj in (shown[key] for key in keys if key in shown)]
        return hashlib.blake2b(repr(rows).encode(), digest_size=12).hexdigest()

    def records(self):
        """(page of records, page, version): the page's keys are found first, then only its rows are read."""
        schema = TABS[self.tab][0]
        page = Paginator(self.objects().prefetch_related(None).values_list("pk", flat=True), PAGE_SIZE).get_page(
            self.page)
        keys = list(page.object_list)
        shown = self.shown(keys)
        return [ConfigRecord(schema, shown[key]) for key in keys if key in shown], page, self.version(keys, shown)


def _context(request, state):
    error = ""
    try:
        records, page, version = state.records()
    except ParameterError as refused:
        error, records, page, version = refused.message, [], None, ""
    columns = COLUMNS[state.tab]
    rows = [{"pk": record.obj.pk, "record": record, "cells": [record.display(column) for column in columns],
             "selected": record.obj.pk in state.selected} for record in records]
    return {"state": state, "rows": rows, "columns": columns, "page": page, "filter_error": error,
            "links": state.links(columns, page), "version": version,
            "servers": TransportServer.objects.local(), "actions": _action_labels(state.tab)}


def _statistics(state):
    """The 24-hour charts of the chosen server, or of the first CHARTED_SERVERS of all."""
    servers = TransportServer.objects.local().order_by("name")
    if state.server:
        servers = servers.filter(name__iexact=state.server)
    charted = list(servers[:CHARTED_SERVERS + 1])
    return {"statistics": samples.statistics(charted[:CHARTED_SERVERS]), "more_servers": len(charted) > CHARTED_SERVERS}


def _action_labels(tab):
    if tab == "queues":
        return (("retry", "Retry Queue"), ("suspend", "Suspend"), ("resume", "Resume"))
    return (("suspend", "Suspend"), ("resume", "Resume"), ("remove-ndr", "Remove (with NDR)"),
            ("remove", "Remove (without NDR)"))


@require_GET
@login_required
def queue_viewer(request):
    state = ViewerState(request.GET)
    target = request.htmx.target if request.htmx else None
    if target == "viewer-rows":
        return _rows_refresh(request, state)
    if target == "queue-statistics":
        return render(request, "toolbox/queue_statistics.html", {"state": state, **_statistics(state)})
    return render(request, "toolbox/queue_viewer.html", {**_context(request, state), **_statistics(state)})


def _rows_refresh(request, state):
    """The live refresh of the list: 204 (htmx leaves the rows, and the administrator's ticks, as they are)
    while the rows the browser shows haven't changed, else the rows again with their new version."""
    try:
        keys = state.keys(state.page_number())
        unchanged = request.GET.get("version") == state.version(keys, state.shown(keys))
    except ParameterError:
        unchanged = False
    if unchanged:
        return HttpResponse(status=204)
    return render(request, "toolbox/queue_rows.html", _context(request, state))


@require_POST
@login_required
def queue_action(request):
    """A bulk action on the selected queues or messages; each goes through the audited write path."""
    state = ViewerState(request.POST)
    action = request.POST.get("action", "")
    table = QUEUE_ACTIONS if state.tab == "queues" else MESSAGE_ACTIONS
    model = DeliveryQueue if state.tab == "queues" else QueuedMessage
    if action not in table:
        return HttpResponse(f"Unknown action '{action}'.", status=400)
    done = 0
    for obj in model.objects.filter(pk__in=state.selected).select_related(
            "server" if state.tab == "queues" else "queue__server"):
        try:
            table[action](obj)
            done += 1
        except ConfigurationError as error:
            flash.error(request, str(error))
    flash.success(request, f"{dict(_action_labels(state.tab))[action]}: {done} item(s).")
    return redirect(f"{reverse('toolbox:queues')}?tab={state.tab}&server={state.server}")


@require_GET
@login_required
def export_list(request):
    """Export List: the rows the page shows (all pages), as CSV with Exchange's property names."""
    state = ViewerState(request.GET)
    schema = TABS[state.tab][0]
    try:
        objects = state.objects()
    except ParameterError as error:
        return HttpResponse(error.message, status=400)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{state.tab}.csv"'
    writer = csv.writer(response)
    writer.writerow(COLUMNS[state.tab])
    for obj in objects:
        record = ConfigRecord(schema, obj)
        writer.writerow([record.display(column) for column in COLUMNS[state.tab]])
    return response


@require_GET
@login_required
def message_detail(request, pk):
    """One message: its properties, recipients with their last error, its headers and its tracking history."""
    message = get_object_or_404(QueuedMessage.objects.select_related("queue__server"), pk=pk)
    headers, headers_missing = _headers(request.user, message)
    history = logs.message_path(message.internet_message_id) if message.internet_message_id else logs.LogAnswer()
    return render(request, "toolbox/queue_message.html", {
        "message": message, "record": ConfigRecord(MESSAGE, message), "headers": headers,
        "headers_missing": headers_missing, "history": history, "recipients": message.recipients.all()})


def _headers(user, message):
    """(headers, why there are none). Headers are message content: only administrators with the queue rights
    Export-Message takes see them, read by the server that holds the message (the console never opens a
    server's disk)."""
    if not can_change_object(user, MESSAGE, message):
        return [], ("Headers are message content: they're shown to administrators who manage this server's "
                    "queues, as Export-Message is. Your role groups let you see the message's properties and "
                    "history only.")
    try:
        content = dispatch.read_message(message.queue.server.name, message.store_id)
    except dispatch.MessageUnavailable as error:
        return [], f"The headers couldn't be read: {error}"
    return BytesHeaderParser().parsebytes(content).items(), ""
