"""End to end through real transport workers (`manage.py transport --server NAME` subprocesses): SMTP in on a
receive connector, out through a smart-host send connector to an aiosmtpd peer; a worker killed with -9 in the
middle of a delivery delivers again after restart; a connector sourced only on a second server is delivered by
that server's worker."""
import asyncio

import pytest
from django.conf import settings

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from transport.queue.models import DeliveryQueue
from exchange_console.services import new_object
from tests.send_peers import Sink, SinkHandler
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, new_receive_connector, remove_server_data,
    server_store, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, SECOND_HOST = "127.0.0.61", "127.0.0.64"
SMART_HOST, SECOND_SMART_HOST = "127.0.0.62", "127.0.0.63"


class SlowHandler(SinkHandler):
    """Holds each DATA for `delay` seconds before answering (time to kill the sending worker)."""
    delay = 0.0

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return reply


@pytest.fixture(scope="module")
def servers(committed_db):
    first, second = unique_server_name("SA"), unique_server_name("SB")
    server = install_receive_server(first, "sa.contoso.com")
    other = install_receive_server(second, "sb.contoso.com")
    for domain in ("relay.example", "second.example"):
        new_object(ACCEPTED_DOMAIN, {"Name": domain, "DomainName": domain, "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:31025", PermissionGroups="AnonymousUsers")
    new_receive_connector(other, "Internet", f"{SECOND_HOST}:31025", PermissionGroups="AnonymousUsers")
    new_object(SEND_CONNECTOR, {"Name": f"Relay {first}", "AddressSpaces": "relay.example",
                                "SmartHosts": f"[{SMART_HOST}]", "DNSRoutingEnabled": False, "Port": 31062,
                                "SourceTransportServers": [first]})
    new_object(SEND_CONNECTOR, {"Name": f"Second {second}", "AddressSpaces": "second.example",
                                "SmartHosts": f"[{SECOND_SMART_HOST}]", "DNSRoutingEnabled": False,
                                "Port": 31063, "SourceTransportServers": [second]})
    yield server, other
    remove_server_data(first)
    remove_server_data(second)


@pytest.fixture(scope="module")
def workers(servers):
    started = [TransportWorker(server.name).start(wait_for=[f"{host}:31025"])
               for server, host in zip(servers, (HOST, SECOND_HOST))]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def smart_host():
    sink = Sink(SMART_HOST, 31062)
    sink.controller.handler = sink.handler = SlowHandler()
    with sink:
        yield sink


def send(recipient, subject, host=HOST):
    with Client(host, 31025) as client:
        client.ehlo("client.example.com")
        client.sendmail("sender@example.com", [recipient],
                        f"From: sender@example.com\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nbody\r\n")


def subjects(sink):
    return [line for m in sink.received for line in m.content.decode().splitlines() if line.startswith("Subject:")]


def test_it_relays_a_received_message_through_the_smart_host(workers, servers, smart_host):
    send("user@relay.example", "Relayed")
    assert wait_for(lambda: "Subject: Relayed" in subjects(smart_host))
    received = next(m for m in smart_host.received if b"Subject: Relayed" in m.content)
    assert (received.mail_from, received.rcpt_tos, received.helo) == (
        "sender@example.com", ["user@relay.example"], "sa.contoso.com")
    assert wait_for(lambda: server_store(servers[0].name).ids() == [])


def test_it_delivers_again_after_the_worker_is_killed_in_the_middle_of_a_delivery(workers, servers, smart_host):
    first_worker = workers[0]
    smart_host.handler.delay = 30
    try:
        send("user@relay.example", "Interrupted")
        assert wait_for(lambda: subjects(smart_host).count("Subject: Interrupted") == 1)
        first_worker.kill()                      # the smart host has the data but never answered
        assert len(server_store(servers[0].name).ids()) == 1
        smart_host.handler.delay = 0
        first_worker.start(wait_for=[f"{HOST}:31025"])
        assert wait_for(lambda: subjects(smart_host).count("Subject: Interrupted") == 2)
        assert wait_for(lambda: server_store(servers[0].name).ids() == [])
    finally:
        smart_host.handler.delay = 0


def test_it_lets_the_source_server_of_a_connector_deliver_for_another_server(workers, servers):
    first, second = servers
    with Sink(SECOND_SMART_HOST, 31063) as second_smart_host:
        send("user@second.example", "Via the second server")
        assert wait_for(lambda: len(second_smart_host.received) == 1)
    assert second_smart_host.received[0].helo == "sb.contoso.com"   # the second server's FQDN
    assert wait_for(lambda: server_store(first.name).ids() == server_store(second.name).ids() == [])
    assert not DeliveryQueue.objects.filter(server=first, next_hop_connector__startswith="Second").exists()
    assert DeliveryQueue.objects.filter(server=second, next_hop_connector__startswith="Second").exists()
    tracking = lambda server: "".join(
        p.read_text() for p in (settings.EXCHANGE_DATA_DIR / server.name).rglob("MSGTRK*.log"))
    assert ",TRANSFER," in tracking(first) and f",{second.name}," in tracking(first)
    assert ",SEND," in tracking(second)
