"""A transport worker's Prometheus endpoint (TRANSPORT_METRICS_PORT), scraped as Prometheus would while real
SMTP clients talk to its receive connectors and its send connector delivers to a real peer."""
import socket
import urllib.request
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from transport.queue.models import QueuedMessage
from exchange_console.services import new_object
from tests.send_peers import Sink
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, PEER = loopback_host(46), loopback_host(48)
INTERNET, PER_SOURCE, METRICS, SMART_HOST_PORT = 46025, 46026, 46090, 46062
UNKNOWN = "nobody@relay.example"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("MT")
    server = install_receive_server(name, "mt.contoso.com")
    for domain in ("relay.example", "down.example"):
        new_object(ACCEPTED_DOMAIN, {"Name": domain, "DomainName": domain, "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:{INTERNET}", PermissionGroups="AnonymousUsers")
    new_receive_connector(server, "PerSource", f"{HOST}:{PER_SOURCE}", PermissionGroups="AnonymousUsers",
                          MaxInboundConnectionPerSource=1)
    new_object(SEND_CONNECTOR, {"Name": "Relay", "AddressSpaces": "relay.example", "SmartHosts": f"[{PEER}]",
                                "DNSRoutingEnabled": False, "Port": SMART_HOST_PORT, "SourceTransportServers": [name]})
    new_object(SEND_CONNECTOR, {"Name": "Down", "AddressSpaces": "down.example", "SmartHosts": f"[{PEER}]",
                                "DNSRoutingEnabled": False, "Port": SMART_HOST_PORT + 1,
                                "SourceTransportServers": [name]})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("TRANSPORT_METRICS_PORT", str(METRICS))
        environment.setenv("TRANSPORT_METRICS_ADDRESS", HOST)
        worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{INTERNET}", f"{HOST}:{PER_SOURCE}"])
    # The endpoint opens once the worker has handed its queue on, a moment after the listeners.
    assert wait_for(lambda: _accepts(HOST, METRICS))
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def smart_host():
    with Sink(PEER, SMART_HOST_PORT, replies={UNKNOWN: "550 5.1.1 User unknown"}) as sink:
        yield sink


def _accepts(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def scrape():
    """{(sample name, (label values...)): value}, as Prometheus reads the endpoint."""
    with urllib.request.urlopen(f"http://{HOST}:{METRICS}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(name, **labels):
    return scrape().get((name, tuple(sorted(labels.items()))))


def send(port, recipient):
    """From the null sender: a recipient that fails sends no NDR that would wait in a queue of its own."""
    with Client(HOST, port) as client:
        client.ehlo("client.example.com")
        client.sendmail("", [recipient], "Subject: counted\r\n\r\nbody\r\n")


def test_it_counts_a_received_message_for_its_connector(worker, server):
    before = value("exchange_receive_messages_received_total", server=server.name, connector="Internet")
    send(INTERNET, "someone@contoso.com")
    assert value("exchange_receive_messages_received_total", server=server.name, connector="Internet") == before + 1
    assert value("exchange_receive_messages_received_total", server=server.name, connector="PerSource") == 0


def test_it_shows_open_sessions_and_refused_ones_by_reason(worker, server):
    labels = {"server": server.name, "connector": "PerSource"}
    assert value("exchange_receive_sessions_active", **labels) == 0
    with Client(HOST, PER_SOURCE) as first:
        assert value("exchange_receive_sessions_active", **labels) == 1
        with socket.create_connection((HOST, PER_SOURCE), timeout=10) as second:
            assert second.makefile("rb").readline().startswith(b"421 4.3.2 The maximum number of concurrent "
                                                               b"connections has exceeded a limit")
        assert first.noop()[0] == 250
        assert value("exchange_receive_sessions_refused_total", reason="MaxInboundConnectionPerSource",
                     **labels) == 1
    assert wait_for(lambda: value("exchange_receive_sessions_active", **labels) == 0, timeout=10)


def test_it_counts_sent_and_failed_messages_and_the_delivery_latency(worker, server, smart_host):
    labels = {"server": server.name, "connector": "Relay"}
    send(INTERNET, "user@relay.example")
    send(INTERNET, UNKNOWN)
    assert wait_for(lambda: value("exchange_transport_messages_failed_total", **labels) == 1)
    assert value("exchange_transport_messages_sent_total", **labels) == 1
    assert value("exchange_transport_delivery_latency_seconds_count", **labels) == 1
    assert value("exchange_transport_delivery_latency_seconds_bucket", le="+Inf", **labels) == 1


def test_it_shows_the_listeners_the_running_configuration_and_the_queues(worker, server):
    status = worker.status()
    assert value("exchange_receive_listener_up", server=server.name, binding=f"{HOST}:{INTERNET}") == 1
    configuration = value("exchange_transport_configuration_timestamp_seconds", server=server.name)
    assert configuration == pytest.approx(datetime.fromisoformat(status["configuration"]).timestamp())
    send(INTERNET, "user@down.example")   # nothing listens at its smart host: it waits in Retry
    assert wait_for(lambda: QueuedMessage.objects.filter(queue__server=server, status="Retry").exists())
    assert value("exchange_transport_queue_messages", server=server.name, status="Retry") == 1
    for status_name in ("Active", "Ready", "Suspended", "PendingRemove", "PendingSuspend"):
        assert value("exchange_transport_queue_messages", server=server.name, status=status_name) == 0


def test_it_runs_on_without_metrics_when_their_port_is_taken(committed_db):
    other = install_receive_server(unique_server_name("MU"), "mu.contoso.com")
    new_receive_connector(other, "Internet", f"{HOST}:46027", PermissionGroups="AnonymousUsers")
    with socket.socket() as taken, pytest.MonkeyPatch.context() as environment:
        taken.bind((HOST, METRICS + 1))
        taken.listen()
        environment.setenv("TRANSPORT_METRICS_PORT", str(METRICS + 1))
        environment.setenv("TRANSPORT_METRICS_ADDRESS", HOST)
        worker = TransportWorker(other.name).start(wait_for=[f"{HOST}:46027"])
        try:
            assert worker.status()["bindings"] == {f"{HOST}:46027": "Listening"}
            refused = f"Metrics can't listen on {HOST}:{METRICS + 1}: Address already in use"
            assert wait_for(lambda: refused in worker.output.read_text(), timeout=10)
        finally:
            worker.stop()
            remove_server_data(other.name)
