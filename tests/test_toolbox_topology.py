"""Toolbox > Mail Flow Topology, as the server draws it: sites and their site link's cost, the servers with their
workers' health and listeners, each queue with its status and count, the connectors with their address spaces,
costs and smart hosts, the Edge subscription and its EdgeSync connectors, and where mail leaves; every link
leads to the object's properties or the queue in the Queue Viewer; the live refresh answers 204 until something
changes."""
import re
import xml.etree.ElementTree as ElementTree
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, SEND_CONNECTOR
from exchange_console.edge.services import import_subscription
from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer
from exchange_console.services import new_object
from exchange_console.toolbox import topology
from tests.console_data import add_send_connectors, edge_subscription_file
from tests.shell_helpers import ems
from transport.queue.models import DeliveryQueue, DeliveryType, QueuedMessage, QueueStatus

URL = "/toolbox/topology/"
SITE = "Default-First-Site-Name"
SVG, XLINK = "{http://www.w3.org/2000/svg}", "{http://www.w3.org/1999/xlink}"
TAKEN = "[Errno 98] error while attempting to bind on address ('0.0.0.0', 2587): address already in use"


def report(server, bindings):
    """What a running worker records: its bindings' states and a fresh heartbeat (transport.worker)."""
    TransportServer.objects.filter(pk=server.pk).update(receive_listener_status={
        "bindings": bindings, "heartbeat": timezone.now().isoformat(), "heartbeat_interval": 10,
        "broker": "Connected"})


def queue(server, connector, next_hop, messages, status=QueueStatus.READY, delivery_type=None, error=""):
    found = DeliveryQueue.objects.create(
        server=server, delivery_type=delivery_type or DeliveryType.SMART_HOST_CONNECTOR, next_hop_domain=next_hop,
        next_hop_connector=connector, status=status, last_error=error)
    QueuedMessage.objects.bulk_create(
        QueuedMessage(queue=found, store_id=f"{found.pk}-{number}", from_address="kim@contoso.com",
                      subject=f"Figures {number}", size=2048, date_received=timezone.now() - timedelta(minutes=number))
        for number in range(messages))
    return found


@pytest.fixture
def organization_drawn(hub):
    """HUB01 (its Client listener's port taken) and HUB03 in Branch, DEFAULTIPSITELINK at ExchangeCost 10; a
    smart host connector with a queue in Retry, a scoped DNS connector in Branch, a foreign connector, mail in
    HUB01's Unreachable queue, and EDGE01 subscribed to the main site with both EdgeSync connectors."""
    ems("New-AdSite Branch")
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 10")
    branch_hub = setup.install_transport_server("HUB03", "hub03.contoso.com", "Branch", smtp_port=30025,
                                                submission_port=30587)
    report(hub, {"0.0.0.0:2025": "Listening", "0.0.0.0:2587": TAKEN})
    report(branch_hub, {"0.0.0.0:30025": "Listening", "0.0.0.0:30587": "Listening"})
    isp = new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*;5", "SmartHosts": "[192.0.2.10]",
                                      "Port": 2525, "DNSRoutingEnabled": False, "SourceTransportServers": "HUB01"})
    branch = new_object(SEND_CONNECTOR, {"Name": "Branch Internet", "AddressSpaces": "*;20,fabrikam.com;2",
                                         "IsScopedConnector": True, "SourceTransportServers": "HUB03"})
    fax = new_object(FOREIGN_CONNECTOR, {"Name": "Fax Gateway", "AddressSpaces": "FAX:*;1",
                                         "SourceTransportServers": "HUB01"})
    subscription = import_subscription(edge_subscription_file(), SITE)
    retry = queue(hub, "ISP", "[192.0.2.10]", 2, QueueStatus.RETRY,
                  error="451 4.4.0 Primary target IP address responded with: 421 4.4.2 Connection dropped")
    unreachable = queue(hub, "", "nowhere.example", 1, delivery_type=DeliveryType.UNREACHABLE)
    return {"hub": hub, "branch_hub": branch_hub, "isp": isp, "branch": branch, "fax": fax,
            "subscription": subscription, "retry": retry, "unreachable": unreachable}


def words_of(element):
    return " ".join(text.text or "" for text in element.iter(f"{SVG}text"))


class Picture:
    """The drawing as a reader of the SVG sees it: each node's text and links, and the arrows between nodes."""

    def __init__(self, response):
        content = response.content.decode()
        self.svg = re.search(r"<svg.*</svg>", content, re.S).group(0)
        root = ElementTree.fromstring(self.svg)
        self.nodes, self.clusters, self.links, self.edges = {}, [], [], {}
        for group in root.iter(f"{SVG}g"):
            kind, name, words = group.get("class", ""), group.findtext(f"{SVG}title"), words_of(group)
            if kind.startswith("node"):
                self.nodes[name] = words
            elif kind.startswith("cluster"):
                self.clusters.append(words)
            elif kind.startswith("edge"):
                tail, head = name.split("->")
                self.edges[tail.split(":")[0], head.split(":")[0]] = words
        for link in root.iter(f"{SVG}a"):
            self.links.append((words_of(link), link.get(f"{XLINK}href")))

    def node(self, words):
        """The name of the one node whose text begins with `words`."""
        (name,) = [name for name, content in self.nodes.items() if content.startswith(words)]
        return name

    def text(self, words):
        """The text of the one node whose text begins with `words`."""
        return self.nodes[self.node(words)]

    def arrow(self, tail, head):
        """The label of the arrow from the node with `tail` in its text to the one with `head`, or None."""
        return self.edges.get((self.node(tail), self.node(head)))

    def link(self, words):
        """Where the one link whose text contains `words` leads."""
        (href,) = {href for content, href in self.links if words in content}
        return href


def drawn(client):
    response = client.get(URL)
    assert response.status_code == 200
    return Picture(response)



def test_it_draws_each_site_with_its_servers_their_workers_and_listeners(admin_client, organization_drawn):
    picture = drawn(admin_client)
    assert [cluster.split("  ")[0] for cluster in picture.clusters] == [
        "Site: Branch", "Site: Default-First-Site-Name", "Perimeter network"]
    assert picture.text("HUB03") == ("HUB03 Hub Transport hub03.contoso.com Transport worker: Healthy "
                                     "Client HUB03 0.0.0.0:30587 Listening Default HUB03 0.0.0.0:30025 Listening")
    hub01 = picture.text("HUB01 Hub Transport")
    assert "Default HUB01 0.0.0.0:2025 Listening" in hub01
    assert "Client HUB01 0.0.0.0:2587 [Errno 98] error while attempting to bind on a\u2026" in hub01
    assert picture.text("EDGE01") == ("EDGE01 Edge Transport edge01.contoso.com "
                                      "Transport worker: Managed on the Edge Transport server")
    site_link = [label for label in picture.edges.values() if "DEFAULTIPSITELINK" in label]
    assert site_link == ["DEFAULTIPSITELINK cost 10 (ExchangeCost)"]
    assert picture.arrow("HUB01 Hub Transport", "EDGE01") == "Edge subscription EdgeSync :50636, not synchronized yet"


def test_it_draws_the_connectors_with_their_address_spaces_and_costs_and_where_mail_leaves(
        admin_client, organization_drawn):
    picture = drawn(admin_client)
    assert picture.text("Send connector: ISP") == (
        "Send connector: ISP SMTP:*;5 Smart hosts: [192.0.2.10] port 2525")
    assert picture.arrow("Send connector: ISP", "Smart host [192.0.2.10]") == ""
    assert picture.text("Send connector: Branch Internet") == (
        "Send connector: Branch Internet SMTP:*;20 SMTP:fabrikam.com;2 DNS MX records Scoped")
    assert picture.arrow("HUB03", "Send connector: Branch Internet") == ""
    assert picture.arrow("Send connector: Branch Internet", "Internet DNS MX records") == ""
    assert picture.text("Foreign connector: Fax Gateway") == "Foreign connector: Fax Gateway FAX:*;1"
    assert picture.arrow("Foreign connector: Fax Gateway", "Drop directory") == ""
    # The Edge subscription's EdgeSync connectors: from the Edge to the Internet with domain security, and in
    # to the Hubs of its site.
    assert picture.arrow("EDGE01", f"Send connector: EdgeSync - {SITE} to Internet") == ""
    assert picture.arrow(f"Send connector: EdgeSync - {SITE} to Internet", "Internet DNS MX records") == "mutual TLS"
    assert picture.text("Send connector: EdgeSync - Inbound") == (
        f"Send connector: EdgeSync - Inbound to {SITE} SMTP:--;1 (accepted domains) Smart hosts: -- (ExchangeServer)")
    assert picture.arrow("Send connector: EdgeSync - Inbound", "HUB01 Hub Transport") == ""
    # Branch's Hub isn't in the subscribed site.
    assert picture.arrow("Send connector: EdgeSync - Inbound", "HUB03") is None


def test_each_queue_shows_its_status_and_count_on_the_way_to_its_connector(admin_client, organization_drawn):
    retry, unreachable = organization_drawn["retry"], organization_drawn["unreachable"]
    picture = drawn(admin_client)
    assert picture.text(retry.identity) == f"{retry.identity} [192.0.2.10] Retry, 2 messages"
    assert picture.arrow("HUB01 Hub Transport", retry.identity) == ""
    assert picture.arrow(retry.identity, "Send connector: ISP") == ""
    assert picture.arrow("HUB01 Hub Transport", "Send connector: ISP") is None   # the way to it is through the queue
    assert picture.text(unreachable.identity) == f"{unreachable.identity} nowhere.example Ready, 1 message"
    assert picture.arrow("HUB01 Hub Transport", unreachable.identity) == ""


def queue_viewer_filter(href):
    parts = urlsplit(href)
    assert parts.path == "/toolbox/queues/"
    return {name: value for name, (value,) in parse_qs(parts.query).items()}


def test_every_object_links_to_its_properties_and_every_queue_to_the_queue_viewer(admin_client, organization_drawn):
    world = organization_drawn
    picture = drawn(admin_client)
    client_hub03 = ReceiveConnector.objects.get(server=world["branch_hub"], name="Client HUB03")
    assert picture.link("HUB03 Hub Transport") == f"/console/properties/transport-server/{world['branch_hub'].pk}/"
    assert picture.link("Client HUB03") == f"/console/properties/receive-connector/{client_hub03.pk}/"
    assert picture.link("Send connector: ISP") == f"/console/properties/send-connector/{world['isp'].pk}/"
    assert picture.link("Fax Gateway") == f"/console/properties/foreign-connector/{world['fax'].pk}/"
    assert picture.link("Edge subscription") == f"/console/properties/edge-subscription/{world['subscription'].pk}/"
    for words, href in picture.links:
        if href.startswith("/console/"):
            assert admin_client.get(href).status_code == 200, words
    retry = world["retry"]
    href = picture.link(retry.identity)
    assert queue_viewer_filter(href) == {"tab": "queues", "server": "HUB01",
                                         "filter": f'Identity -eq "{retry.identity}"'}
    viewer = admin_client.get(href).content.decode()
    assert retry.identity in viewer and world["unreachable"].identity not in viewer


def test_a_connector_with_many_queues_shows_the_troubled_ones_and_links_to_the_rest(admin_client, organization_drawn):
    hub = organization_drawn["hub"]
    new_object(SEND_CONNECTOR, {"Name": "Internet", "AddressSpaces": "*.example;3", "SourceTransportServers": "HUB01"})
    for number in range(5):
        queue(hub, "Internet", f"domain{number}.example", number, delivery_type=DeliveryType.DNS_CONNECTOR,
              status=QueueStatus.RETRY if number == 1 else QueueStatus.READY)
    picture = drawn(admin_client)
    shown = sorted(words.split()[1] for words in picture.nodes.values() if words.startswith("HUB01\\")
                   and "domain" in words)
    assert shown == ["domain1.example", "domain3.example", "domain4.example"]   # Retry first, then the fullest
    assert picture.text("2 more queues") == "2 more queues 2 messages"
    assert queue_viewer_filter(picture.link("more queues")) == {
        "tab": "queues", "server": "HUB01", "filter": 'NextHopConnector -eq "Internet"'}
    assert picture.arrow("2 more queues", "Send connector: Internet") == ""


def refresh(client, version):
    return client.get(URL, {"version": version}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="topology-drawing")


def test_the_live_refresh_sends_a_new_drawing_only_when_something_changed(admin_client, organization_drawn):
    page = admin_client.get(URL).content.decode()
    version = re.search(r'name="version" value="(\w+)"', page).group(1)
    assert 'hx-trigger="every 5s, configChanged from:body"' in page
    assert refresh(admin_client, version).status_code == 204
    queue_ = organization_drawn["retry"]
    QueuedMessage.objects.create(queue=queue_, store_id="late", date_received=timezone.now())
    changed = refresh(admin_client, version)
    assert changed.status_code == 200 and "<h1>" not in changed.content.decode()
    assert Picture(changed).text(queue_.identity).endswith("Retry, 3 messages")
    report(organization_drawn["hub"], {"0.0.0.0:2025": "Listening", "0.0.0.0:2587": "Listening"})
    version = re.search(r'name="version" value="(\w+)"', changed.content.decode()).group(1)
    healthy = refresh(admin_client, version)
    assert "Transport worker: Healthy" in Picture(healthy).text("HUB01 Hub Transport")


def test_it_draws_at_most_a_screenful_of_connectors_and_says_where_the_rest_are(admin_client, hub):
    add_send_connectors(topology.SHOWN + 5, [hub])
    response = admin_client.get(URL)
    assert len([words for words in Picture(response).nodes.values() if words.startswith("Send connector")]) == 40
    assert (f"The drawing shows the first 40 of 45 send connectors by name; the Send Connectors tab lists them all."
            in response.content.decode())


def test_a_linked_connector_is_drawn_from_its_receive_connector(admin_client, hub):
    inbound = ReceiveConnector.objects.get(server=hub, name="Default HUB01")
    new_object(SEND_CONNECTOR, {"Name": "To DLP", "AddressSpaces": None, "LinkedReceiveConnector": inbound,
                                "MaxMessageSize": "unlimited", "SmartHosts": "[192.0.2.20]",
                                "DNSRoutingEnabled": False, "SourceTransportServers": "HUB01"})
    picture = drawn(admin_client)
    assert picture.text("Send connector: To DLP") == (
        "Send connector: To DLP No address spaces Smart hosts: [192.0.2.20] Linked to HUB01\\Default HUB01")
    assert picture.arrow("HUB01 Hub Transport", "Send connector: To DLP") == "linked"


def test_an_edge_console_draws_its_own_server_in_the_perimeter(admin_client, db):
    edge = setup.install_edge_server("EDGE01", "edge01.contoso.com", SITE, smtp_port=2025)
    report(edge, {"0.0.0.0:2025": "Listening"})
    picture = drawn(admin_client)
    assert picture.clusters[-1] == "Perimeter network"
    assert picture.text("EDGE01") == ("EDGE01 Edge Transport edge01.contoso.com Transport worker: Healthy "
                                      "Default internal receive connector EDGE01 0.0.0.0:2025 Listening")


def queries(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL).status_code == 200
    return len(captured)


def test_it_reads_the_organization_in_a_fixed_number_of_queries(admin_client, organization_drawn):
    before = queries(admin_client)
    hub03 = organization_drawn["branch_hub"]
    for number in range(3):
        connector = new_object(SEND_CONNECTOR, {"Name": f"Partner {number}", "AddressSpaces": f"p{number}.example",
                                                "SourceTransportServers": "HUB03"})
        queue(hub03, connector.name, f"p{number}.example", number, delivery_type=DeliveryType.DNS_CONNECTOR)
    ems("New-AdSite Paris")
    setup.install_transport_server("HUB04", "hub04.contoso.com", "Paris", smtp_port=40025, submission_port=40587)
    assert queries(admin_client) == before


def test_names_are_drawn_as_text(admin_client, hub):
    new_object(SEND_CONNECTOR, {"Name": "R&D <Lab> \"x\"", "AddressSpaces": "lab.contoso.com",
                                "SourceTransportServers": "HUB01"})
    response = admin_client.get(URL)
    assert Picture(response).text("Send connector: R&D") == (
        'Send connector: R&D <Lab> "x" SMTP:lab.contoso.com;1 DNS MX records')
    assert "<Lab>" not in response.content.decode()


def test_without_graphviz_the_page_says_what_is_missing(admin_client, hub, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert "The drawing needs Graphviz&#x27;s dot program" in response.content.decode()


def test_the_toolbox_offers_it_and_it_only_answers_get(admin_client, hub):
    toolbox = admin_client.get("/console/toolbox/").content.decode()
    assert f'<a href="{URL}">Mail Flow Topology</a>' in toolbox
    assert admin_client.post(URL).status_code == 405

