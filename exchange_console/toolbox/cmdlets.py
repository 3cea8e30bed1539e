"""Get-MessageTrackingLog, with Exchange 2010's parameters: the servers' workers search their own logs, as for the
console's page."""
from datetime import datetime, timezone

from exchange_console.organization.models import TransportServer
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.results import MORE_RESULTS, result_size
from exchange_console.shell.values import ShellObject, to_string, unroll
from exchange_console.toolbox import logs

# Exchange's property names for the log's fields, in its Format-List order.
PROPERTIES = {
    "Timestamp": "date-time", "ClientIp": "client-ip", "ClientHostname": "client-hostname",
    "ServerIp": "server-ip", "ServerHostname": "server-hostname", "SourceContext": "source-context",
    "ConnectorId": "connector-id", "Source": "source", "EventId": "event-id",
    "InternalMessageId": "internal-message-id", "MessageId": "message-id", "Recipients": "recipient-address",
    "RecipientStatus": "recipient-status", "TotalBytes": "total-bytes", "RecipientCount": "recipient-count",
    "RelatedRecipientAddress": "related-recipient-address", "Reference": "reference",
    "MessageSubject": "message-subject", "Sender": "sender-address", "ReturnPath": "return-path",
    "MessageInfo": "message-info", "Directionality": "directionality",
}
MULTI_VALUED = {"Recipients", "RecipientStatus", "Reference"}
DATE_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M", "%Y-%m-%d")


class TrackingEvent(ShellObject):
    def __init__(self, row):
        self.row = row

    def property_names(self):
        return list(PROPERTIES)

    def get(self, name):
        own = self.canonical(name)
        if own is None:
            return None
        value = self.row.get(PROPERTIES[own], "")
        if own in MULTI_VALUED:
            return [item for item in value.split(";") if item]
        if own in ("TotalBytes", "RecipientCount"):
            return int(value or 0)
        return value

    def display(self, name):
        value = self.get(name)
        return "{" + ", ".join(value) + "}" if isinstance(value, list) else str(value)

    def default_columns(self):
        return ["EventId", "Source", "Sender", "Recipients", "MessageSubject"]


def parse_date(parameter, value):
    if isinstance(value, datetime):  # (Get-Date).AddHours(-1): already a moment, in the console's time zone
        return value
    text = to_string(value).strip()
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ParameterBindingError(f"Cannot bind parameter '{parameter}'. Cannot convert value \"{text}\" to type "
                                f"\"System.DateTime\".")


def _servers(invocation):
    if "Server" not in invocation:
        return None
    name = to_string(invocation.get("Server"))
    server = TransportServer.objects.filter(name__iexact=name).first()
    if server is None:
        raise ObjectNotFoundError(name, "this organization")
    return [server]


@cmdlet("Get-MessageTrackingLog", Parameter("Server"), Parameter("Start", type_name="System.DateTime"),
        Parameter("End", type_name="System.DateTime"), Parameter("Sender"),
        Parameter("Recipients", type_name="System.String[]"), Parameter("MessageId"),
        Parameter("InternalMessageId"), Parameter("MessageSubject"), Parameter("EventId"),
        Parameter("ResultSize"))
def get_message_tracking_log(invocation):
    search = logs.TrackingSearch(
        sender=to_string(invocation.get("Sender", "")), message_id=to_string(invocation.get("MessageId", "")),
        internal_message_id=to_string(invocation.get("InternalMessageId", "")),
        recipients=tuple(to_string(item) for item in unroll(invocation.get("Recipients", []))),
        subject=to_string(invocation.get("MessageSubject", "")), event_id=to_string(invocation.get("EventId", "")),
        start=parse_date("Start", invocation.get("Start")) if "Start" in invocation else None,
        end=parse_date("End", invocation.get("End")) if "End" in invocation else None,
    )
    found = logs.search_tracking(search, _servers(invocation), limit=result_size(invocation), newest=False)
    for reason in found.unavailable:   # the other servers' events still come
        invocation.session.host.warn(f"Couldn't search the message tracking logs of a server: {reason}")
    if found.skipped:
        invocation.session.host.warn(f"Skipped {found.skipped} malformed row(s) of the message tracking logs.")
    if found.more:
        invocation.session.host.warn(MORE_RESULTS)
    return [TrackingEvent(row) for row in found.rows]
