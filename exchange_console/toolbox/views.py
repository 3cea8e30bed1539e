"""Toolbox pages (each opens on its own, as the EMC's tools open in their own windows): Message Tracking and
Protocol Logs, read by the servers' workers (exchange_console.toolbox.logs). Every page works on a full load; the
live tail is refreshed by htmx polling."""
from datetime import datetime, timezone

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization.models import TransportServer
from exchange_console.toolbox import logs

EVENTS = ("", "RECEIVE", "SUBMIT", "RESOLVE", "EXPAND", "REDIRECT", "TRANSFER", "SEND", "DELIVER", "DEFER",
          "FAIL", "DSN", "POISONMESSAGE", "BADMAIL")


class TrackingForm(forms.Form):
    server = forms.ModelChoiceField(TransportServer.objects.all(), required=False, empty_label="All servers",
                                    to_field_name="name", label="Server")
    sender = forms.CharField(required=False, label="Sender")
    recipients = forms.CharField(required=False, label="Recipients", help_text="Separate addresses with commas.")
    message_id = forms.CharField(required=False, label="Message ID")
    subject = forms.CharField(required=False, label="Subject")
    event_id = forms.ChoiceField(choices=[(event, event or "Any") for event in EVENTS], required=False,
                                 label="Event ID")
    start = forms.DateTimeField(required=False, label="Start (UTC)")
    end = forms.DateTimeField(required=False, label="End (UTC)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["server"].queryset = TransportServer.objects.local()   # whose logs this console can ask for

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "End must be later than Start.")
        return data

    def search(self):
        data = self.cleaned_data
        return logs.TrackingSearch(
            sender=data["sender"].strip(), subject=data["subject"].strip(), message_id=data["message_id"].strip(),
            recipients=tuple(item.strip() for item in data["recipients"].split(",") if item.strip()),
            event_id=data["event_id"], start=_utc(data["start"]), end=_utc(data["end"]))

    def servers(self):
        server = self.cleaned_data.get("server")
        return [server] if server else None


def _utc(moment):
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@require_GET
@login_required
def message_tracking(request):
    form = TrackingForm(request.GET or None)
    found = None
    if form.is_bound and form.is_valid():
        found = logs.search_tracking(form.search(), form.servers(), limit=1000)
    return render(request, "toolbox/message_tracking.html", {"form": form, "found": found})


@require_GET
@login_required
def message_path(request):
    message_id = request.GET.get("message_id", "")
    found = logs.message_path(message_id) if message_id else logs.LogAnswer()
    return render(request, "toolbox/message_path.html", {"message_id": message_id, "found": found})


def _connectors(server, direction):
    if direction == logs.RECEIVE:
        return [connector.identity for connector in ReceiveConnector.objects.filter(server=server)]
    return [connector.name for connector in SendConnector.objects.filter(source_transport_servers=server)]


def _direction(request):
    return logs.SEND if request.GET.get("direction") == logs.SEND else logs.RECEIVE


@require_GET
@login_required
def protocol_logs(request):
    servers = list(TransportServer.objects.local())
    server = next((s for s in servers if s.name == request.GET.get("server")), servers[0] if servers else None)
    direction = _direction(request)
    connector = request.GET.get("connector", "")
    found = logs.protocol_sessions(server, direction, connector) if server else logs.LogAnswer()
    return render(request, "toolbox/protocol_logs.html", {
        "servers": servers, "server": server, "direction": direction, "connector": connector,
        "connectors": _connectors(server, direction) if server else [], "found": found,
    })


@require_GET
@login_required
def protocol_session(request, server, session_id):
    server = get_object_or_404(TransportServer, name=server)
    direction = _direction(request)
    found = logs.session_dialogue(server, session_id, direction)
    return render(request, "toolbox/protocol_session.html", {
        "server": server, "session_id": session_id, "found": found, "direction": direction})


@require_GET
@login_required
def protocol_tail(request, server):
    """The live tail of one connector: the whole page, or with htmx only the lines since `position`."""
    server = get_object_or_404(TransportServer, name=server)
    direction, connector = _direction(request), request.GET.get("connector", "")
    found = logs.tail(server, connector, request.GET.get("position"), direction)
    context = {"server": server, "connector": connector, "direction": direction, "found": found,
               "position": found.position, "now": datetime.now(timezone.utc)}
    template = "toolbox/tail_rows.html" if request.htmx else "toolbox/protocol_tail.html"
    return render(request, template, context)
