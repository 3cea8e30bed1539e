"""The kinds of object the console lists and edits, and the result-pane lists with the columns the EMC shows.

Each list loads its rows with a constant number of queries (select/prefetch), then sorts and filters the
shown cell texts in Python, so a column sorts the way it reads.
"""
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

from django.urls import reverse

from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization.models import (
    AcceptedDomain, Mailbox, RemoteDomain, TransportConfig, TransportServer,
)
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER,
)
from exchange_console.schema import ObjectSchema


@dataclass(frozen=True)
class Kind:
    slug: str                   # in URLs: /properties/send-connector/3/
    label: str                  # the EMC's noun, used in confirmations: "Send connector"
    schema: ObjectSchema
    queryset: Callable          # () -> QuerySet with what the dialog needs
    toggles: bool = False       # Disable/Enable
    removable: bool = True


def _servers_of(model):
    return lambda: model.objects.prefetch_related("source_transport_servers")


KINDS = {kind.slug: kind for kind in (
    Kind("send-connector", "Send connector", SEND_CONNECTOR, _servers_of(SendConnector), toggles=True),
    Kind("foreign-connector", "Foreign connector", FOREIGN_CONNECTOR, _servers_of(ForeignConnector), toggles=True),
    Kind("receive-connector", "Receive connector", RECEIVE_CONNECTOR,
         lambda: ReceiveConnector.objects.select_related("server"), toggles=True),
    Kind("accepted-domain", "Accepted domain", ACCEPTED_DOMAIN, AcceptedDomain.objects.all),
    Kind("remote-domain", "Remote domain", REMOTE_DOMAIN, RemoteDomain.objects.all),
    Kind("transport-config", "Transport Settings", TRANSPORT_CONFIG, TransportConfig.objects.all, removable=False),
    Kind("transport-server", "Transport server", TRANSPORT_SERVER,
         lambda: TransportServer.objects.select_related("site"), removable=False),
    Kind("mailbox", "Mailbox", MAILBOX, Mailbox.objects.all),
)}


def status(obj):
    return "Enabled" if obj.enabled else "Disabled"


def joined(values):
    return ", ".join(values)


def server_names(obj):
    return joined(obj.source_server_names)


def shown(schema, name):
    """A column showing one parameter as Get- shows it."""
    param = schema.param(name)
    return lambda obj: param.type.format(schema.value(obj, param))


def listed_connectors(model):
    """Connectors with only the listed fields, and their source servers' names from one more query
    (a thousand rows build much faster than prefetched server objects would)."""
    def rows():
        connectors = list(model.objects.only("name", "enabled", "address_spaces"))
        names = defaultdict(list)
        through = model.source_transport_servers.through
        owner = f"{model._meta.model_name}_id"
        for pk, name in through.objects.values_list(owner, "transportserver__name").order_by("transportserver__name"):
            names[pk].append(name)
        for connector in connectors:
            connector.source_server_names = names[connector.pk]
        return connectors
    return rows


@dataclass(frozen=True)
class ResultList:
    slug: str
    title: str
    kind: Kind
    columns: tuple              # (title, obj -> text)
    rows: Callable              # (**scope) -> iterable of objects


RESULT_LISTS = {result.slug: result for result in (
    ResultList("remote-domains", "Remote Domains", KINDS["remote-domain"],
               (("Name", lambda d: d.name), ("Remote Domain", lambda d: d.domain_name)),
               lambda: RemoteDomain.objects.all()),
    ResultList("accepted-domains", "Accepted Domains", KINDS["accepted-domain"],
               (("Name", lambda d: d.name), ("Accepted Domain", lambda d: d.domain_name),
                ("Domain Type", lambda d: d.domain_type), ("Default", lambda d: "True" if d.default else "False")),
               lambda: AcceptedDomain.objects.all()),
    ResultList("send-connectors", "Send Connectors", KINDS["send-connector"],
               (("Name", lambda c: c.name), ("Status", status), ("Address Spaces", lambda c: joined(c.address_spaces)),
                ("Source Servers", server_names)),
               listed_connectors(SendConnector)),
    ResultList("foreign-connectors", "Foreign Connectors", KINDS["foreign-connector"],
               (("Name", lambda c: c.name), ("Status", status), ("Address Spaces", lambda c: joined(c.address_spaces)),
                ("Source Servers", server_names)),
               listed_connectors(ForeignConnector)),
    ResultList("global-settings", "Global Settings", KINDS["transport-config"],
               (("Name", lambda c: c.identity), ("Maximum send size", shown(TRANSPORT_CONFIG, "MaxSendSize")),
                ("Maximum receive size", shown(TRANSPORT_CONFIG, "MaxReceiveSize")),
                ("Maximum number of recipients", shown(TRANSPORT_CONFIG, "MaxRecipientEnvelopeLimit"))),
               lambda: TransportConfig.objects.all()),
    ResultList("receive-connectors", "Receive Connectors", KINDS["receive-connector"],
               (("Name", lambda c: c.name), ("Status", status), ("Bindings", lambda c: joined(c.bindings)),
                ("Remote IP Ranges", lambda c: joined(c.remote_ip_ranges)),
                ("Listener Status", lambda c: c.listener_status)),
               lambda server=None: ReceiveConnector.objects.select_related("server").filter(server=server)),
    ResultList("mailboxes", "Mailbox", KINDS["mailbox"],
               (("Display Name", lambda m: m.name), ("Primary SMTP Address", lambda m: m.primary_smtp_address)),
               lambda: Mailbox.objects.all()),
)}

ORGANIZATION_TABS = ("remote-domains", "accepted-domains", "send-connectors", "foreign-connectors",
                     "global-settings")


def table(result, query="", sort="", descending=False, **scope):
    """Rows as (object, cells), filtered by the text typed in the filter box and sorted by one column
    (the first by default, as the EMC sorts by name)."""
    titles = [title for title, _ in result.columns]
    sort = sort if sort in titles else titles[0]
    rows = [(obj, [cell(obj) for _, cell in result.columns]) for obj in result.rows(**scope)]
    if query:
        needle = query.lower()
        rows = [row for row in rows if any(needle in text.lower() for text in row[1])]
    index = titles.index(sort)
    rows.sort(key=lambda row: row[1][index].lower(), reverse=descending)
    return rows


def properties_url(kind, obj):
    return reverse("console:properties", args=[kind.slug, obj.pk])


@dataclass
class Row:
    """A list row: its cells and the URLs of the actions on it."""
    obj: object
    cells: list
    properties: str
    toggle: str = ""
    remove: str = ""


def row_urls(kind):
    """obj -> Row; the URLs are reversed once per list, not once per row."""
    marker = 987654321
    def url(name, *args):
        return reverse(name, args=[kind.slug, marker, *args]).replace(str(marker), "{}")
    properties = url("console:properties")
    toggle = {True: url("console:object-action", "disable"), False: url("console:object-action", "enable")}
    remove = url("console:object-action", "remove")

    def build(obj, cells):
        return Row(obj, cells, properties.format(obj.pk), toggle[obj.enabled].format(obj.pk) if kind.toggles else "",
                   remove.format(obj.pk) if kind.removable else "")
    return build
