"""The kinds of object the console lists and edits, and the result-pane lists with the columns the EMC shows.

Each list filters and sorts in the database, by expressions that order the way a column's text reads, and
loads only the page of rows it sends (with a constant number of queries); like the EMC it shows at most a
maximum number of objects (1,000 unless the administrator changes it) and says when more exist.
"""
from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from operator import attrgetter, or_
from typing import Callable

from django.db.models import Case, Exists, F, Min, OuterRef, Q, TextField, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Lower
from django.db.models.lookups import IContains
from django.urls import reverse

from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, RoutingGroupConnector, SendConnector
from exchange_console.connectors.schemas import (
    FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, ROUTING_GROUP_CONNECTOR, SEND_CONNECTOR,
)
from exchange_console.edge.models import CONFIGURATION, EdgeSubscription
from exchange_console.edge.schemas import EDGE_SUBSCRIPTION
from exchange_console.edge.services import remove_subscription
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
    remove: Callable = None     # (obj) -> None: the service that removes one, when it is more than remove_object
    shell_only: str = ""        # why the console shows these without changing them (the EMC's own read-only lists)


def _servers_of(model):
    return lambda: model.objects.prefetch_related("source_transport_servers")


# Exchange 2010's console lists routing group connectors and shows their properties; they are managed in the shell.
RGC_IN_THE_SHELL = ("Routing group connectors are managed in the Exchange Management Shell (New-, Set- and "
                    "Remove-RoutingGroupConnector), as in Exchange 2010.")


def _routing_group_connectors():
    return RoutingGroupConnector.objects.select_related("routing_group", "target_routing_group")


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
    Kind("edge-subscription", "Edge subscription", EDGE_SUBSCRIPTION,
         lambda: EdgeSubscription.objects.select_related("server", "site"), remove=remove_subscription),
    Kind("routing-group-connector", "Routing group connector", ROUTING_GROUP_CONNECTOR, _routing_group_connectors,
         removable=False, shell_only=RGC_IN_THE_SHELL),
)}


NOTHING = Q(pk__in=[])
MAXIMUM_TO_DISPLAY = 1000       # the EMC's default maximum number of objects to display
MAXIMUM_LIMIT = 1_000_000       # and the most its dialog accepts
PAGE_ROWS = 50                  # rows sent at once (more than a screenful); scrolling asks for the next


@dataclass(frozen=True)
class ListColumn:
    """A result-list column: the text a row shows, and how the database sorts and filters by that text."""
    title: str
    text: Callable              # obj -> the cell's text
    order: object               # the expression the database sorts by, in the order the texts read
    search: Callable            # (needle, scope) -> Q of the objects whose cell contains the lower-case needle


def as_text(field):
    return Cast(field, TextField())


def field(title, name):
    """A column showing one text field as stored."""
    return ListColumn(title, attrgetter(name), Lower(name), lambda needle, scope: Q(**{f"{name}__icontains": needle}))


def values(title, name):
    """A multi-valued parameter, shown joined; its JSON text sorts and filters as the joined text reads."""
    return ListColumn(title, lambda obj: ", ".join(getattr(obj, name)), Lower(as_text(name)),
                      lambda needle, scope: Q(IContains(as_text(name), needle)))


def flag(title, name, yes, no):
    """A boolean shown as a word ("Enabled"/"Disabled" sort as False before True)."""
    def search(needle, scope):
        return ((Q(**{name: True}) if needle in yes.lower() else NOTHING)
                | (Q(**{name: False}) if needle in no.lower() else NOTHING))
    return ListColumn(title, lambda obj: yes if getattr(obj, name) else no, F(name), search)


def shown(schema, name):
    """A column showing one parameter as Get- shows it ("10 MB (10,485,760 bytes)"): sorted by the value,
    filtered by formatting the column's distinct values (a handful: sizes an administrator set)."""
    param = schema.param(name)
    field_name = param.field

    def text(value):
        return param.type.format(value)

    def search(needle, scope):
        found = [value for value in schema.model.objects.values_list(field_name, flat=True).distinct()
                 if needle in text(value).lower()]
        return Q(**{f"{field_name}__in": [v for v in found if v is not None]}) | (
            Q(**{f"{field_name}__isnull": True}) if None in found else NOTHING)
    return ListColumn(param.name, lambda obj: text(schema.value(obj, param)), F(field_name), search)


def source_servers(model):
    """Source Servers: the names joined; sorted by the first name, filtered on any of them."""
    through = model.source_transport_servers.through
    owner = f"{model._meta.model_name}_id"
    mine = through.objects.filter(**{owner: OuterRef("pk")})
    return ListColumn("Source Servers", lambda obj: ", ".join(obj.source_server_names),
                      Coalesce(Min(Lower("source_transport_servers__name")), Value("")),
                      lambda needle, scope: Q(Exists(mine.filter(transportserver__name__icontains=needle))))


def with_server_names(model):
    """Adds the page's connectors' source server names from one query (a page builds much faster from
    names than from prefetched server objects)."""
    through = model.source_transport_servers.through
    owner = f"{model._meta.model_name}_id"

    def attach(connectors):
        names = defaultdict(list)
        found = through.objects.filter(**{f"{owner}__in": [c.pk for c in connectors]})
        for pk, name in found.values_list(owner, "transportserver__name").order_by("transportserver__name"):
            names[pk].append(name)
        for connector in connectors:
            connector.source_server_names = names[connector.pk]
    return attach


def has_binding(binding):
    return Q(IContains(as_text("bindings"), f'"{binding}"'))


def listener_search(needle, scope):
    """Listener Status reads "Disabled", or each binding with the state its server's worker reported
    ("Not running" for one it doesn't report). A connector with some bindings reported and others not is
    found by the reported ones' states and its bindings, not by "Not running"."""
    reported = scope["server"].listener_bindings() if scope.get("server") else {}
    found = Q(IContains(as_text("bindings"), needle))
    for binding, state in reported.items():
        if needle in f"{binding} {state}".lower():
            found |= has_binding(binding)
    if needle in "not running":
        found |= ~reduce(or_, map(has_binding, reported), NOTHING)
    return (Q(enabled=False) if needle in "disabled" else NOTHING) | (Q(enabled=True) & found)


LISTENER_STATUS = ListColumn("Listener Status", attrgetter("listener_status"),
                             Case(When(enabled=False, then=Value("disabled")), default=Lower(as_text("bindings"))),
                             listener_search)
STATUS = flag("Status", "enabled", "Enabled", "Disabled")


def related(title, name, text=None):
    """A column showing a field of a related object (name as a lookup: "server__name")."""
    return ListColumn(title, text or (lambda obj: str(attrgetter(name.replace("__", "."))(obj))), Lower(name),
                      lambda needle, scope: Q(**{f"{name}__icontains": needle}))


def edge_sync(title, key):
    """What the Hubs wrote after their last configuration push to an Edge (EdgeSubscription.status)."""
    lookup = f"status__{CONFIGURATION}__{key}"
    return ListColumn(title, lambda obj: obj.status.get(CONFIGURATION, {}).get(key, ""),
                      Coalesce(KT(lookup), Value("")), lambda needle, scope: Q(**{f"{lookup}__icontains": needle}))


@dataclass(frozen=True)
class ResultList:
    slug: str
    title: str
    kind: Kind
    columns: tuple              # ListColumn, the first the one the EMC sorts by (the name)
    objects: Callable           # (**scope) -> QuerySet with the fields the columns show
    attach: Callable = None     # (objects of a page) -> None, adding what the columns show from other tables


def connector_list(slug, title, kind_slug, model):
    return ResultList(slug, title, KINDS[kind_slug],
                      (field("Name", "name"), STATUS, values("Address Spaces", "address_spaces"),
                       source_servers(model)),
                      lambda: model.objects.only("name", "enabled", "address_spaces"), with_server_names(model))


RESULT_LISTS = {result.slug: result for result in (
    ResultList("remote-domains", "Remote Domains", KINDS["remote-domain"],
               (field("Name", "name"), field("Remote Domain", "domain_name")), RemoteDomain.objects.all),
    ResultList("accepted-domains", "Accepted Domains", KINDS["accepted-domain"],
               (field("Name", "name"), field("Accepted Domain", "domain_name"), field("Domain Type", "domain_type"),
                flag("Default", "default", "True", "False")),
               AcceptedDomain.objects.all),
    connector_list("send-connectors", "Send Connectors", "send-connector", SendConnector),
    connector_list("foreign-connectors", "Foreign Connectors", "foreign-connector", ForeignConnector),
    ResultList("global-settings", "Global Settings", KINDS["transport-config"],
               (ListColumn("Name", attrgetter("identity"), F("pk"),
                           lambda needle, scope: Q() if needle in "transport settings" else NOTHING),
                shown(TRANSPORT_CONFIG, "MaxSendSize"), shown(TRANSPORT_CONFIG, "MaxReceiveSize"),
                shown(TRANSPORT_CONFIG, "MaxRecipientEnvelopeLimit")),
               TransportConfig.objects.all),
    ResultList("receive-connectors", "Receive Connectors", KINDS["receive-connector"],
               (field("Name", "name"), STATUS, values("Bindings", "bindings"),
                values("Remote IP Ranges", "remote_ip_ranges"), LISTENER_STATUS),
               lambda server=None: ReceiveConnector.objects.select_related("server").filter(server=server)),
    ResultList("edge-subscriptions", "Edge Subscriptions", KINDS["edge-subscription"],
               (related("Name", "server__name"), related("Site", "site__name"),
                related("Domain", "server__fqdn", lambda obj: EDGE_SUBSCRIPTION.value(
                    obj, EDGE_SUBSCRIPTION.param("Domain"))),
                edge_sync("Last Synchronization", "LastSync"), edge_sync("Synchronization Result", "Result")),
               lambda: EdgeSubscription.objects.select_related("server", "site")),
    ResultList("routing-group-connectors", "Routing Group Connectors", KINDS["routing-group-connector"],
               (field("Name", "name"), related("Source Routing Group", "routing_group__name"),
                related("Target Routing Group", "target_routing_group__name"), shown(ROUTING_GROUP_CONNECTOR, "Cost"),
                shown(ROUTING_GROUP_CONNECTOR, "MaxMessageSize")),
               _routing_group_connectors),
    ResultList("mailboxes", "Mailbox", KINDS["mailbox"],
               (field("Display Name", "name"), field("Primary SMTP Address", "primary_smtp_address")),
               Mailbox.objects.all),
)}

ORGANIZATION_TABS = ("remote-domains", "accepted-domains", "send-connectors", "foreign-connectors",
                     "routing-group-connectors", "edge-subscriptions", "global-settings")   # the EMC's order
# Not in an Edge Transport server's own console.
HUB_ONLY_TABS = ("foreign-connectors", "routing-group-connectors", "edge-subscriptions")


@dataclass
class View:
    """What a list shows: the rows of one page (object, cells), how many objects the view holds (those that
    match, up to the maximum to display), whether more match than that, and where the next page begins."""
    rows: list
    count: int
    more: bool
    next_start: int | None


def table(result, query="", sort="", descending=False, maximum=MAXIMUM_TO_DISPLAY, start=0, **scope):
    """One page of rows, filtered by the text typed in the filter box and sorted by one column (the first by
    default, as the EMC sorts by name), both in the database."""
    columns = {column.title: column for column in result.columns}
    column = columns.get(sort, result.columns[0])
    objects = result.objects(**scope)
    if query:
        needle = query.lower()
        objects = objects.filter(reduce(or_, (c.search(needle, scope) for c in result.columns)))
    matching = objects.count()
    # An alias, so that an aggregate (the first source server) groups the rows it orders.
    objects = objects.alias(listed_by=column.order)
    objects = objects.order_by(F("listed_by").desc() if descending else F("listed_by").asc(), "pk")
    count = min(matching, maximum)
    page = list(objects[start:min(start + PAGE_ROWS, count)]) if start < count else []
    if page and result.attach:
        result.attach(page)
    end = start + len(page)
    return View([(obj, [c.text(obj) for c in result.columns]) for obj in page], count, matching > maximum,
                end if 0 < end < count else None)


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
