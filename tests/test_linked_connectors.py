"""A linked connector pair (Exchange's LinkedReceiveConnector): every message that arrives on the linked receive
connector leaves through its send connector, to an external system (here a stand-in DLP appliance) that sends
it back on another receive connector, where it is delivered and routed as usual; no loop. Real transport worker,
real sockets."""
import smtplib

import pytest

from django.conf import settings

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object
from tests.send_peers import Sink, SinkHandler
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, server_store, unique_server_name, wait_for,
)
from transport.delivery.mailbox import mailbox_folder
from transport.queue.models import DeliveryQueue, QueuedMessage, QueueStatus

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(71)
INBOUND, RETURN, APPLIANCE, INTERNET = 31125, 31126, 31127, 31128


class Appliance(SinkHandler):
    """A DLP appliance: takes each message, then sends it back to the transport's return connector."""

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        await server.loop.run_in_executor(None, self.send_back, envelope)
        return reply

    @staticmethod
    def send_back(envelope):
        with smtplib.SMTP(HOST, RETURN, local_hostname="dlp.contoso.com", timeout=30) as client:
            client.sendmail(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or envelope.content)


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("LK")
    server = install_receive_server(name, "lk.contoso.com")
    new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam relay", "DomainName": "fabrikam.example",
                                 "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Inbound", f"{HOST}:{INBOUND}", PermissionGroups="AnonymousUsers")
    new_receive_connector(server, "From DLP", f"{HOST}:{RETURN}", PermissionGroups="AnonymousUsers")
    inbound = ReceiveConnector.objects.get(server=server, name="Inbound")
    new_object(SEND_CONNECTOR, {"Name": f"To DLP {name}", "AddressSpaces": None, "LinkedReceiveConnector": inbound,
                                "MaxMessageSize": "unlimited",
                                "SmartHosts": f"[{HOST}]", "DNSRoutingEnabled": False, "Port": APPLIANCE,
                                "SourceTransportServers": [name]})
    new_object(SEND_CONNECTOR, {"Name": f"To Fabrikam {name}", "AddressSpaces": "fabrikam.example",
                                "SmartHosts": f"[{HOST}]", "DNSRoutingEnabled": False, "Port": INTERNET,
                                "SourceTransportServers": [name]})
    setup.ensure_mailbox("Ann", f"ann-{name.lower()}@contoso.com", "Passw0rd!")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    started = TransportWorker(server.name).start(wait_for=[f"{HOST}:{INBOUND}", f"{HOST}:{RETURN}"])
    yield started
    started.stop()


def mailbox(address):
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, address) / "new"
    return [path.read_bytes() for path in folder.glob("*")] if folder.exists() else []


def test_mail_on_the_linked_connector_passes_through_the_appliance_and_comes_back_to_its_recipients(worker, server):
    ann = f"ann-{server.name.lower()}@contoso.com"
    sink = Sink(HOST, INTERNET)
    appliance = Sink(HOST, APPLIANCE)
    appliance.controller.handler = appliance.handler = Appliance()
    with sink, appliance:
        with Client(HOST, INBOUND) as client:
            client.ehlo("client.example.com")
            client.sendmail("sender@example.com", [ann, "bob@fabrikam.example"],
                            "From: sender@example.com\r\nSubject: Linked\r\n\r\nbody\r\n")
        assert wait_for(lambda: sink.received and mailbox(ann))
        assert wait_for(lambda: server_store(server.name).ids() == [])
        # Through the appliance once, with every recipient (the mailbox's too); then each where it belongs, once.
        assert [(m.mail_from, sorted(m.rcpt_tos)) for m in appliance.received] == [
            ("sender@example.com", sorted([ann, "bob@fabrikam.example"]))]
        assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.example"]]
        assert len(mailbox(ann)) == 1 and b"Subject: Linked" in mailbox(ann)[0]


def test_mail_on_another_receive_connector_is_routed_without_the_appliance(worker, server):
    sink = Sink(HOST, INTERNET)
    appliance = Sink(HOST, APPLIANCE)
    with sink, appliance:
        with Client(HOST, RETURN) as client:
            client.ehlo("client.example.com")
            client.sendmail("sender@example.com", ["carol@fabrikam.example"],
                            "From: sender@example.com\r\nSubject: Direct\r\n\r\nbody\r\n")
        assert wait_for(lambda: sink.received)
        assert appliance.received == [] and [m.rcpt_tos for m in sink.received] == [["carol@fabrikam.example"]]


def test_mail_for_the_appliance_waits_for_it_instead_of_going_around_it(worker, server):
    """The appliance is down: the linked connector's queue retries, and its mail does not fail over to the
    connector its recipients would otherwise take."""
    with Sink(HOST, INTERNET) as sink:
        with Client(HOST, INBOUND) as client:
            client.ehlo("client.example.com")
            client.sendmail("sender@example.com", ["dave@fabrikam.example"],
                            "From: sender@example.com\r\nSubject: Held\r\n\r\nbody\r\n")
        linked = DeliveryQueue.objects.filter(server=server, next_hop_connector=f"To DLP {server.name}")
        assert wait_for(lambda: linked.filter(status=QueueStatus.RETRY).exists())
        assert list(QueuedMessage.objects.filter(queue__server=server).values_list("queue__next_hop_connector",
                                                                                    "subject")) == [
            (f"To DLP {server.name}", "Held")]
        assert sink.received == []
