"""Toolbox > Mail Flow Topology: the organization drawn as mail crosses it. Sites (with their site links and
costs) hold their transport servers, each with its receive connectors' listeners as its worker reported them;
each server's delivery queues lead to the send and foreign connectors they are for, and those to where mail
leaves: the Internet by DNS, smart hosts, another of the organization's servers, a drop directory. Subscribed Edge
Transport servers stand in the perimeter, joined to their site by the subscription.

Graphviz lays the drawing out (dot, server-side, to SVG): the page never places a box itself. Every server,
connector and subscription links to its properties dialog, every queue to itself in the Queue Viewer. The page
asks again every few seconds and gets a new drawing only when what it shows has changed."""
import hashlib
import html
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import graphviz
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, SendConnector
from exchange_console.console.kinds import KINDS, properties_url
from exchange_console.console.views import ROLE_NAMES, WORKER_ON_THE_EDGE, transport_servers
from exchange_console.edge.models import CONFIGURATION, EdgeSubscription
from exchange_console.organization.models import HEALTHY, AdSiteLink, Site
from exchange_console.queues.schemas import MESSAGE_COUNT
from transport.queue.models import DeliveryQueue, DeliveryType, QueueStatus

SHOWN = 40              # servers, send connectors and foreign connectors drawn at most, each by name
QUEUES_SHOWN = 3        # queues drawn for one server and next-hop connector; the rest as one node
DRAWING_TARGET = "topology-drawing"   # the element the live refresh replaces

FONT = "Helvetica"      # one of the fonts Graphviz has metrics for without a font library
GOOD, BAD, BUSY, IDLE, OFF = "#d8f0d0", "#f8d0d0", "#fde2b8", "#ffffff", "#e4e4e4"
ALL_ACCEPTED_DOMAINS = "--"   # an address space or smart host an Edge subscription creates


@dataclass
class Topology:
    """What the drawing shows, read in a fixed number of queries."""
    sites: list
    links: list
    servers: list               # TransportServer, with managed_here and receive (their receive connectors)
    send_connectors: list
    foreign_connectors: list
    subscriptions: list
    queues: list                # DeliveryQueue of the servers drawn, with count (MessageCount)
    notices: list = field(default_factory=list)


def read_topology():
    servers, hidden_servers = _first(transport_servers(), "servers", "Server Configuration")
    receive = defaultdict(list)
    for connector in ReceiveConnector.objects.filter(server__in=servers).select_related("server").order_by("name"):
        receive[connector.server_id].append(connector)
    for server in servers:
        server.receive = receive[server.pk]
    send, hidden_send = _first(SendConnector.objects.select_related("linked_receive_connector__server")
                               .prefetch_related("source_transport_servers"), "send connectors",
                               "the Send Connectors tab")
    foreign, hidden_foreign = _first(ForeignConnector.objects.prefetch_related("source_transport_servers"),
                                     "foreign connectors", "the Foreign Connectors tab")
    queues = DeliveryQueue.objects.filter(server__in=[s for s in servers if s.managed_here]).select_related(
        "server").annotate(count=MESSAGE_COUNT).order_by("server__name", "id")
    return Topology(list(Site.objects.all()), list(AdSiteLink.objects.prefetch_related("sites")), servers, send,
                    foreign, list(EdgeSubscription.objects.select_related("server", "site")), list(queues),
                    [notice for notice in (hidden_servers, hidden_send, hidden_foreign) if notice])


def _first(objects, things, where):
    """(the first SHOWN objects (a list or a query), a notice saying how many more there are, or '')."""
    shown = list(objects[:SHOWN + 1])
    if len(shown) <= SHOWN:
        return shown, ""
    total = len(objects) if isinstance(objects, list) else objects.count()
    return shown[:SHOWN], f"The drawing shows the first {SHOWN} of {total} {things} by name; {where} lists them all."


# --- Labels ----------------------------------------------------------------------------------------------------

def text(value):
    """Text inside a Graphviz HTML-like label."""
    return html.escape(str(value), quote=True)


def tooltip(value):
    """A tooltip, of a node or of a cell of a label: Graphviz reads backslashes in it as escapes (HUB01\\5 is
    written HUB01\\\\5), and a cell's attribute keeps a line break only as a character reference."""
    return html.escape(str(value), quote=True).replace("\\", "\\\\").replace("\n", "&#10;")


def url(value):
    """A node's or edge's URL as SVG keeps it: Graphviz writes it into the attribute as given."""
    return html.escape(value, quote=True)


def table(*rows):
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">{"".join(rows)}</TABLE>>'


def row(content, colour=IDLE, href="", title="", port=""):
    """One cell: a link to `href` (a path without a query: HTML-like labels write it unescaped) when given."""
    link = f' HREF="{text(href)}" TOOLTIP="{tooltip(title)}"' if href else ""
    place = f' PORT="{port}"' if port else ""
    return f'<TR><TD ALIGN="LEFT" BALIGN="LEFT" BGCOLOR="{colour}"{link}{place}>{content}</TD></TR>'


def _short(line, length=60):
    """A line of a label cut to a readable width (an OS error can be long); the tooltip has it whole."""
    return line if len(line) <= length else line[:length - 1] + "\u2026"


def lines(*items):
    return "<BR/>".join(text(item) for item in items if item)


# --- The drawing ---------------------------------------------------------------------------------------------

class Drawing:
    """The Graphviz graph of a Topology: sites as clusters, then queues, connectors and where mail leaves."""

    def __init__(self, topology):
        self.topology = topology
        self.graph = graphviz.Digraph("topology", graph_attr={
            "rankdir": "LR", "compound": "true", "fontname": FONT, "fontsize": "11", "nodesep": "0.25",
            "ranksep": "0.7", "bgcolor": "transparent"},
            node_attr={"shape": "plain", "fontname": FONT, "fontsize": "10"},
            edge_attr={"fontname": FONT, "fontsize": "9", "color": "#555555"})
        self.servers = {server.pk: server for server in topology.servers}
        self.anchors = {}           # site pk -> a node inside its cluster, for edges to or from the cluster
        self.outside = {}           # where mail leaves (Internet, smart hosts) -> node name

    def build(self):
        self.sites()
        self.perimeter()
        self.site_links()
        self.subscriptions()
        queued = self.queues()
        for connector in self.topology.send_connectors:
            self.send_connector(connector, queued)
        for connector in self.topology.foreign_connectors:
            self.foreign_connector(connector, queued)
        return self.graph

    # Sites and servers.

    def sites(self):
        for site in self.topology.sites:
            hubs = [server for server in self.topology.servers if server.site_id == site.pk and not server.is_edge]
            with self.graph.subgraph(name=f"cluster_site{site.pk}") as cluster:
                hub_site = " (hub site)" if site.hub_site_enabled else ""
                cluster.attr(label=f"<<B>Site: {text(site.name)}</B>{hub_site}>", style="filled",
                             fillcolor="#f3f7fc", color="#8da2c3", labeljust="l")
                for server in hubs:
                    self.server(cluster, server)
                if not hubs:
                    cluster.node(f"site{site.pk}", "<<I>No Hub Transport servers</I>>", shape="plaintext")
            self.anchors[site.pk] = f"server{hubs[0].pk}" if hubs else f"site{site.pk}"

    def perimeter(self):
        edges = [server for server in self.topology.servers if server.is_edge]
        if not edges:
            return
        with self.graph.subgraph(name="cluster_perimeter") as cluster:
            cluster.attr(label="<<B>Perimeter network</B>>", style="dashed", color="#8da2c3", labeljust="l")
            for server in edges:
                self.server(cluster, server)

    def server(self, graph, server):
        """A server: its name, role and FQDN, its worker's health, and each receive connector's listeners."""
        health = server.worker_health if server.managed_here else WORKER_ON_THE_EDGE
        colour = OFF if not server.managed_here else GOOD if health == HEALTHY else BAD
        link = properties_url(KINDS["transport-server"], server)
        title = f"{server.name} Properties"
        rows = [row(f"<B>{text(server.name)}</B><BR/>{lines(ROLE_NAMES[server.role], server.fqdn)}", colour,
                    link, title),
                row(lines(_short(f"Transport worker: {health}")), colour, link, f"Transport worker: {health}")]
        rows += [self.listener(connector) for connector in server.receive]
        graph.node(f"server{server.pk}", table(*rows), **{"class": "server"})

    def listener(self, connector):
        """A receive connector's row: each binding with the state its server's worker reported."""
        if not connector.enabled:
            states, colour = ["Disabled"], OFF
        else:
            states = [f"{binding} {connector.server.binding_status(binding)}" for binding in connector.bindings]
            colour = GOOD if all(state.endswith(" Listening") for state in states) else BAD
        return row(f"<B>{text(connector.name)}</B><BR/>{lines(*map(_short, states))}", colour,
                   properties_url(KINDS["receive-connector"], connector), "\n".join([connector.identity, *states]),
                   port=f"receive{connector.pk}")

    # Between sites and servers.

    def site_links(self):
        """Each site link between each pair of its sites, with the cost routing uses."""
        for link in self.topology.links:
            sites = sorted(link.sites.all(), key=lambda site: site.name)
            cost = f"cost {link.cost}" + (" (ExchangeCost)" if link.exchange_cost is not None else "")
            label = f"<{text(link.name)}<BR/>{text(cost)}>"
            for number, one in enumerate(sites):
                for other in sites[number + 1:]:
                    self.graph.edge(self.anchors[one.pk], self.anchors[other.pk], label=label, dir="none",
                                    ltail=f"cluster_site{one.pk}", lhead=f"cluster_site{other.pk}",
                                    color="#5b7fb0", penwidth="2", **{"class": "site-link"})

    def subscriptions(self):
        for subscription in self.topology.subscriptions:
            if subscription.server_id not in self.servers:   # beyond the servers drawn
                continue
            result = subscription.status.get(CONFIGURATION, {}).get("Result", "not synchronized yet")
            label = f"<Edge subscription<BR/>EdgeSync :{subscription.edgesync_port}, {text(result)}>"
            self.graph.edge(self.anchors[subscription.site_id], f"server{subscription.server_id}", label=label,
                            ltail=f"cluster_site{subscription.site_id}", style="dashed", dir="both",
                            URL=url(properties_url(KINDS["edge-subscription"], subscription)),
                            tooltip=tooltip(f"{subscription.identity} Properties"),
                            **{"class": "edge-subscription"})

    # Queues.

    def queues(self):
        """Each server's queues, grouped by the connector they are for; returns {(server pk, connector name):
        the nodes mail for that connector waits in}."""
        groups = defaultdict(list)
        for queue in self.topology.queues:
            groups[queue.server_id, queue.next_hop_connector].append(queue)
        queued = {}
        for (server_pk, connector), queues in groups.items():
            queues.sort(key=lambda queue: (not _troubled(queue), -queue.count, queue.pk))
            nodes = [self.queue(queue) for queue in queues[:QUEUES_SHOWN]]
            if rest := queues[QUEUES_SHOWN:]:
                nodes.append(self.more_queues(self.servers[server_pk], connector, rest))
            for node in nodes:
                self.graph.edge(f"server{server_pk}", node)
            queued[server_pk, connector] = nodes
        return queued

    def queue(self, queue):
        name = f"queue{queue.pk}"
        messages = f"{queue.count} message{'' if queue.count == 1 else 's'}"
        self.graph.node(name, f"<<B>{text(queue.identity)}</B><BR/>{lines(queue.next_hop_domain)}"
                              f"<BR/>{lines(f'{queue.status}, {messages}')}>",
                        shape="box", style="rounded,filled", fillcolor=_queue_colour(queue),
                        color="#b00020" if queue.connection_failing else "#555555",
                        URL=url(_queue_viewer(queue.server.name, f'Identity -eq "{queue.identity}"')),
                        tooltip=tooltip(queue.last_error or f"{queue.identity}: {queue.delivery_type}"),
                        **{"class": "queue"})
        return name

    def more_queues(self, server, connector, queues):
        name = f"more{queues[0].pk}"
        count = sum(queue.count for queue in queues)
        troubled = any(_troubled(queue) for queue in queues)
        self.graph.node(name, f"<{len(queues)} more queues<BR/>{count} message{'' if count == 1 else 's'}>",
                        shape="box", style="rounded,filled,dashed", fillcolor=BUSY if troubled else IDLE,
                        URL=url(_queue_viewer(server.name, f'NextHopConnector -eq "{connector}"')),
                        tooltip=tooltip(f"The other queues of {server.name} for {connector or 'no connector'}"),
                        **{"class": "queue"})
        return name

    # Connectors and where they lead.

    def send_connector(self, connector, queued):
        name = f"send{connector.pk}"
        network = [f"Smart hosts: {', '.join(connector.smart_hosts)}"
                   + (f" port {connector.port}" if connector.port != 25 else "")
                   + (f" ({connector.smart_host_auth_mechanism})" if connector.smart_host_auth_mechanism != "None"
                      else "")] if connector.smart_hosts else ["DNS MX records"]
        flags = [flag for flag, on in (("Disabled", not connector.enabled), ("Scoped", connector.is_scoped_connector),
                                       ("Domain security (mutual TLS)", connector.domain_secure_enabled),
                                       ("TLS required", connector.require_tls)) if on]
        linked = connector.linked_receive_connector
        if linked:
            flags.append(f"Linked to {linked.identity}")
        self.connector(name, "Send connector", connector, network + flags)
        self.sources(name, connector, queued)
        if linked and linked.server_id in self.servers:   # what that receive connector takes leaves by this one
            self.graph.edge(f"server{linked.server_id}:receive{linked.pk}", name, label="<linked>", style="dotted")
        if connector.dns_routing_enabled:
            self.leaves(name, self.cloud("Internet", "DNS MX records"),
                        "mutual TLS" if connector.domain_secure_enabled else "")
        for host in connector.smart_hosts:
            for target in self.smart_host(host, connector):
                self.leaves(name, target, "")

    def foreign_connector(self, connector, queued):
        name = f"foreign{connector.pk}"
        folder = connector.drop_directory or connector.name
        self.connector(name, "Foreign connector", connector, ["Disabled"] if not connector.enabled else [])
        self.sources(name, connector, queued)
        drop = f"drop{connector.pk}"
        self.graph.node(drop, f"<Drop directory<BR/>{text(folder)}>", shape="folder", **{"class": "outside"})
        self.leaves(name, drop, "")

    def connector(self, name, noun, connector, details):
        spaces = [_address_space(space) for space in connector.address_spaces] or ["No address spaces"]
        kind = "send-connector" if noun == "Send connector" else "foreign-connector"
        colour = OFF if not connector.enabled else "#eef3fa"
        self.graph.node(name, table(row(f"<B>{text(noun)}: {text(connector.name)}</B>", colour),
                                    row(lines(*spaces)), *(row(lines(detail)) for detail in details)),
                        URL=url(properties_url(KINDS[kind], connector)),
                        tooltip=tooltip(f"{connector.name} Properties"),
                        **{"class": "connector"})

    def sources(self, name, connector, queued):
        """Edges from the connector's source servers, through their queues for it when they have some (a Hub's
        queue for a connector its Edge sends by leads there too)."""
        sources = {server.pk for server in connector.source_transport_servers.all() if server.pk in self.servers}
        waiting = {pk for pk, connector_name in queued if connector_name == connector.name}
        for pk in sorted(sources - waiting):
            self.graph.edge(f"server{pk}", name)
        for pk in sorted(waiting):
            for node in queued[pk, connector.name]:
                self.graph.edge(node, name)

    def smart_host(self, host, connector):
        """The nodes a smart host is: the organization's own servers (an Edge's `--` is its site's Hubs), or
        a host outside."""
        if host == ALL_ACCEPTED_DOMAINS:
            sites = {server.site_id for server in connector.source_transport_servers.all()}
            hubs = [f"server{server.pk}" for server in self.topology.servers
                    if server.site_id in sites and not server.is_edge]
            return hubs or [self.cloud("The subscribed site's Hub Transport servers", "")]
        plain = host.strip("[]").lower()
        ours = [f"server{server.pk}" for server in self.topology.servers
                if plain in (server.fqdn.lower(), server.name.lower())]
        return ours or [self.cloud(f"Smart host {host}", "")]

    def cloud(self, title, detail):
        if title not in self.outside:
            self.outside[title] = f"outside{len(self.outside)}"
            self.graph.node(self.outside[title], f"<<B>{text(title)}</B>{'<BR/>' + text(detail) if detail else ''}>",
                            shape="ellipse", style="filled,dashed", fillcolor="#ffffff", color="#5b7fb0",
                            peripheries="2", **{"class": "outside"})
        return self.outside[title]

    def leaves(self, connector, target, label):
        ours = target.startswith("server")   # back to one of our servers: not a step further right
        self.graph.edge(connector, target, label=f"<{text(label)}>" if label else None,
                        constraint="false" if ours else None, style="dashed" if ours else None)


def _address_space(space):
    return f"{space} (accepted domains)" if f":{ALL_ACCEPTED_DOMAINS};" in space else space


def _troubled(queue):
    return queue.status in (QueueStatus.RETRY, QueueStatus.SUSPENDED) or queue.connection_failing or (
        queue.count and queue.delivery_type in (DeliveryType.UNREACHABLE, DeliveryType.POISON))


def _queue_colour(queue):
    if queue.count and queue.delivery_type in (DeliveryType.UNREACHABLE, DeliveryType.POISON):
        return BAD
    return {QueueStatus.RETRY: BUSY, QueueStatus.SUSPENDED: OFF}.get(
        queue.status, GOOD if queue.status in (QueueStatus.ACTIVE, QueueStatus.CONNECTING) else IDLE)


def _queue_viewer(server_name, opath):
    """The Queue Viewer's Queues tab for one server, filtered as Get-Queue -Filter would be."""
    return f"{reverse('toolbox:queues')}?{urlencode({'tab': 'queues', 'server': server_name, 'filter': opath})}"


# --- The page ------------------------------------------------------------------------------------------------

def svg(graph):
    """(the SVG element, '') or ('', why there is no drawing)."""
    try:
        drawn = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return "", ("The drawing needs Graphviz's dot program, which isn't installed on the server that runs the "
                    "console (Debian package graphviz).")
    except subprocess.CalledProcessError as error:
        return "", f"Graphviz couldn't lay out the drawing: {error.stderr or error}"
    return drawn[drawn.index("<svg"):], ""


def _version(graph, notices):
    """A short hash of what the drawing shows: the live refresh sends it back, and while it holds the answer is
    "nothing changed" (and Graphviz isn't run)."""
    return hashlib.blake2b(repr((graph.source, notices)).encode(), digest_size=12).hexdigest()


@require_GET
@login_required
def topology(request):
    """The whole page; for the live refresh the drawing, or 204 while it hasn't changed."""
    found = read_topology()
    graph = Drawing(found).build()
    version = _version(graph, found.notices)
    refresh = request.htmx and request.htmx.target == DRAWING_TARGET
    if refresh and request.GET.get("version") == version:
        return HttpResponse(status=204)
    drawing, error = svg(graph)
    context = {"svg": drawing, "error": error, "notices": found.notices, "version": version, "target": DRAWING_TARGET}
    response = render(request, "toolbox/topology_drawing.html" if refresh else "toolbox/topology.html", context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
