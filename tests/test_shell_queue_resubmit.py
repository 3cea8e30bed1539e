"""Retry-Queue -Resubmit through `manage.py ems` against a real transport worker: mail waiting in the retry
queue of a connector whose smart host was down goes to the connector added since, routed again, without
another attempt at the old smart host; plain Retry-Queue goes back to the old next hop."""
import getpass

import pytest
from django.contrib.auth import get_user_model

from exchange_console.accounts.models import AdminAuditEntry
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.models import TransportServer
from exchange_console.organization.schemas import ACCEPTED_DOMAIN, TRANSPORT_SERVER
from transport.queue.models import DeliveryQueue, QueuedMessage
from exchange_console.services import new_object, set_object
from tests.send_peers import Sink
from tests.test_shell_ems_command import ems, ems_environment
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host,
    new_receive_connector, remove_server_data, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(57)
NETWORK = HOST.rsplit(".", 1)[0]
OLD_SMART_HOST, NEW_SMART_HOST = f"{NETWORK}.2", f"{NETWORK}.3"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RQ")
    server = install_receive_server(name, "rq.contoso.com")
    # Long retry intervals: nothing but the administrator moves the mail while the test runs.
    set_object(TRANSPORT_SERVER, server, {"TransientFailureRetryInterval": "00:15:00",
                                          "OutboundConnectionFailureRetryInterval": "00:30:00",
                                          "MessageRetryInterval": "00:30:00"})
    new_object(ACCEPTED_DOMAIN, {"Name": "partner", "DomainName": "partner.example", "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:31025", PermissionGroups="AnonymousUsers")
    new_object(SEND_CONNECTOR, {"Name": f"Old {name}", "AddressSpaces": "*", "SmartHosts": f"[{OLD_SMART_HOST}]",
                                "DNSRoutingEnabled": False, "Port": 31026, "SourceTransportServers": [name]})
    get_user_model().objects.create_superuser(getpass.getuser(), password="Corr3ct-Horse!")
    yield TransportServer.objects.get(name=name)
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    started = TransportWorker(server.name).start(wait_for=[f"{HOST}:31025"])
    yield started
    started.stop()


def send(subject):
    with Client(HOST, 31025) as client:
        client.ehlo("client.example.com")
        client.sendmail("sender@example.com", ["user@partner.example"],
                        f"From: sender@example.com\r\nTo: user@partner.example\r\nSubject: {subject}\r\n\r\nbody\r\n")


def in_retry(connector):
    return DeliveryQueue.objects.filter(next_hop_connector=connector, status="Retry", messages__isnull=False).exists()


def test_it_routes_a_retry_queue_s_mail_again_to_the_connector_added_since(worker, server):
    old = f"Old {server.name}"
    send("Resubmitted")
    assert wait_for(lambda: in_retry(old))   # the old smart host doesn't answer
    # Resubmitting routes by the configuration as it is then, however recently it changed.
    new_object(SEND_CONNECTOR, {"Name": f"Partner {server.name}", "AddressSpaces": "partner.example",
                                "SmartHosts": f"[{NEW_SMART_HOST}]", "DNSRoutingEnabled": False, "Port": 31027,
                                "SourceTransportServers": [server.name]})
    with Sink(OLD_SMART_HOST, 31026) as old_host, Sink(NEW_SMART_HOST, 31027) as new_host:
        result = ems(ems_environment(),
                     stdin=f"$queue = Get-Queue -Server {server.name} | ? {{ $_.NextHopConnector -eq '{old}' }}\n"
                           "$queue.Identity\n"
                           "$queue | Retry-Queue -Resubmit $true\n")
        queue = DeliveryQueue.objects.get(next_hop_connector=old)
        assert (result.returncode, result.stderr, result.stdout.split()) == (0, "", [queue.identity])
        assert wait_for(lambda: len(new_host.received) == 1)
        assert wait_for(lambda: not QueuedMessage.objects.filter(queue__server=server).exists())
        assert old_host.received == []
    assert b"Subject: Resubmitted" in new_host.received[0].content
    entry = AdminAuditEntry.objects.get(cmdlet="Retry-Queue")
    assert (entry.succeeded, entry.command.endswith(" -Resubmit $true")) == (True, True)
