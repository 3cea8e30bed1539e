"""An Edge Transport server's receive side (issue 14, point 5), over real SMTP against the Edge's transport worker:
recipient filtering of the organization's recipients as EdgeSync brought them (550 5.1.1 User unknown), relaying
for the organization's InternalSMTPServers as for its Hubs, and for nobody else. The Edge is installed in the test
database as Edge setup does (its own installation, `Default internal receive connector NAME`)."""
import csv
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.conf import settings

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.edge.models import EdgeRecipient, EdgeSyncState
from exchange_console.edge.sync import RECIPIENT
from exchange_console.lib.domains import recipient_hash
from exchange_console.organization import setup
from exchange_console.organization.models import TransportConfig
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object, set_object
from tests.transport_helpers import (
    RUN_OCTET, SITE, Client, TransportWorker, committed_db, loopback_host, remove_server_data, reply,
    unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(58)
PORT = 25825
EDGESYNC_PORT = 40000 + RUN_OCTET * 10 + 8   # the Edge's synchronization listener, unused here
NETWORK = HOST.rsplit(".", 1)[0]
INTERNET, DLP, ANOTHER = f"{NETWORK}.9", f"{NETWORK}.5", f"{NETWORK}.6"   # DLP: in InternalSMTPServers
MESSAGE = "From: someone@fabrikam.com\r\nSubject: edge\r\n\r\nbody\r\n"


@pytest.fixture(scope="module")
def edge(committed_db):
    """EDGE with contoso.com (Authoritative) and relay.contoso.com (InternalRelay) accepted, the organization's
    DLP appliance in InternalSMTPServers, and the recipient alice@contoso.com as EdgeSync leaves it."""
    name = unique_server_name("EG")
    setup.install_organization("First Organization", SITE)
    setup.ensure_accepted_domain("contoso.com")
    new_object(ACCEPTED_DOMAIN, {"Name": "Relay", "DomainName": "relay.contoso.com", "DomainType": "InternalRelay"})
    server = setup.install_edge_server(name, f"{name.lower()}.contoso.com", SITE, smtp_port=PORT,
                                       edgesync_port=EDGESYNC_PORT)
    set_object(RECEIVE_CONNECTOR, ReceiveConnector.objects.get(server=server),
               {"Bindings": f"{HOST}:{PORT}", "TarpitInterval": "00:00:00", "ProtocolLoggingLevel": "Verbose"})
    # What EdgeSync brings from the organization: its transport settings and its recipients, hashed.
    TransportConfig.objects.update(internal_smtp_servers=[DLP, "10.0.0.0/8"])
    EdgeRecipient.objects.create(address_hash=recipient_hash("alice@contoso.com"))
    EdgeSyncState.objects.filter(server=server).update(digests={RECIPIENT: "synchronized"})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(edge):
    worker = TransportWorker(edge.name).start(wait_for=[f"{HOST}:{PORT}"])
    yield worker
    worker.stop()


def session(source):
    client = Client(HOST, PORT, source)
    client.ehlo("client.example.com")
    return client


def protocol_log(server, source, expected, timeout=5):
    """(event, data, context) of the Edge's protocol log lines of sessions from `source`, once `expected` (a
    data field) is among them."""
    path = (Path(settings.EXCHANGE_DATA_DIR) / server.name / server.receive_protocol_log_path
            / f"RECV{datetime.now(timezone.utc):%Y%m%d}-1.log")
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        found = [(row[6], row[7], row[8]) for row in csv.reader(line for line in lines if not line.startswith("#"))
                 if row[5].startswith(f"{source}:")]
        if any(data == expected for _, data, _ in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# --- recipient filtering -------------------------------------------------------------------------------------

def test_it_refuses_an_unknown_recipient_of_an_authoritative_domain_and_takes_the_known_one(worker, edge):
    client = session(INTERNET)
    assert reply(client, "MAIL FROM:<someone@fabrikam.com>") == (250, "2.1.0 Sender OK")
    assert reply(client, "RCPT TO:<nobody@contoso.com>") == (550, "5.1.1 User unknown")
    assert reply(client, "RCPT TO:<Alice@Contoso.com>") == (250, "2.1.5 Recipient OK")
    assert reply(client, "RCPT TO:<postmaster>") == (250, "2.1.5 Recipient OK")
    code, text = client.data(MESSAGE.encode())
    assert code == 250 and b"Queued mail for delivery" in text
    client.quit()


def test_the_protocol_log_shows_the_refusal(worker, edge):
    client = session(ANOTHER)
    reply(client, "MAIL FROM:<someone@fabrikam.com>")
    reply(client, "RCPT TO:<nobody@contoso.com>")
    client.quit()
    logged = protocol_log(edge, ANOTHER, "550 5.1.1 User unknown")
    assert (">", "550 5.1.1 User unknown", "") in logged
    assert ("<", "RCPT TO:<nobody@contoso.com>", "") in logged


def test_it_doesnt_filter_an_internal_relay_domain(worker, edge):
    client = session(INTERNET)
    reply(client, "MAIL FROM:<someone@fabrikam.com>")
    assert reply(client, "RCPT TO:<anyone@relay.contoso.com>") == (250, "2.1.5 Recipient OK")
    client.quit()


# --- relaying --------------------------------------------------------------------------------------------

def test_it_relays_for_nobody_on_the_internet(worker, edge):
    client = session(INTERNET)
    assert reply(client, "MAIL FROM:<someone@fabrikam.com>") == (250, "2.1.0 Sender OK")
    assert reply(client, "RCPT TO:<bob@fabrikam.com>") == (550, "5.7.1 Unable to relay")
    client.quit()


def test_it_relays_for_an_internal_smtp_server_as_for_its_hubs(worker, edge):
    client = session(DLP)
    assert reply(client, "MAIL FROM:<alice@contoso.com>") == (250, "2.1.0 Sender OK")
    assert reply(client, "RCPT TO:<bob@fabrikam.com>") == (250, "2.1.5 Recipient OK")
    assert reply(client, "RCPT TO:<nobody@contoso.com>") == (250, "2.1.5 Recipient OK")   # not filtered
    assert client.data(MESSAGE.encode())[0] == 250
    client.quit()
    logged = protocol_log(edge, DLP, "250 2.1.5 Recipient OK")
    assert ("*", "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                 "AcceptRoutingHeaders", "Set Session Permissions") in logged
