"""The one write path: versions, concurrent edits, and the reload message to the affected servers' queues."""
import pytest
from kombu.simple import SimpleQueue

from exchange_console.celery import app
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.services import ConcurrentChangeError, ConfigurationError, new_object, remove_object, set_object


def drain(server):
    """Every reload_configuration task waiting on a server's Celery queue, as [(task name, args)]."""
    received = []
    with app.connection_for_read() as connection:
        queue = SimpleQueue(connection, server.celery_queue)
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                break
            received.append((message.headers["task"], message.payload[0]))
            message.ack()
        queue.close()
    return received


@pytest.fixture
def queues(second_hub, django_capture_on_commit_callbacks):
    from exchange_console.organization.models import TransportServer

    hub, hub2 = TransportServer.objects.order_by("name")
    drain(hub), drain(hub2)
    return hub, hub2


def test_every_saved_change_increments_the_version(hub):
    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    changed = set_object(SEND_CONNECTOR, connector, {"Enabled": False})
    assert (connector.version, changed.version) == (1, 2)
    assert changed.modified >= connector.modified


def test_a_save_against_an_old_version_is_refused(hub):
    connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    set_object(SEND_CONNECTOR, connector, {"Comment": "first admin"}, expected_version=1)
    with pytest.raises(ConcurrentChangeError, match="was changed by someone else after you opened it"):
        set_object(SEND_CONNECTOR, connector, {"Comment": "second admin"}, expected_version=1)
    assert SendConnector.objects.get().comment == "first admin"


def test_a_refused_new_object_saves_nothing_at_all(hub):
    with pytest.raises(ConfigurationError):
        new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*", "SourceTransportServers": "HUB01",
                                    "Port": 0})
    assert not SendConnector.objects.exists()


def test_a_receive_connector_change_reaches_only_its_server(queues, django_capture_on_commit_callbacks):
    hub, hub2 = queues
    with django_capture_on_commit_callbacks(execute=True):
        new_object(RECEIVE_CONNECTOR, {"Name": "Relay", "Server": "HUB02", "Bindings": "0.0.0.0:2600",
                                       "RemoteIPRanges": "10.0.0.0/8"})
    assert drain(hub2) == [("transport.tasks.reload_configuration", ["HUB02"])]
    assert drain(hub) == []


def test_an_organization_wide_change_reaches_every_server(queues, django_capture_on_commit_callbacks):
    hub, hub2 = queues
    with django_capture_on_commit_callbacks(execute=True):
        connector = new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    assert drain(hub) == [("transport.tasks.reload_configuration", ["HUB01"])]
    assert drain(hub2) == [("transport.tasks.reload_configuration", ["HUB02"])]
    with django_capture_on_commit_callbacks(execute=True):
        remove_object(SEND_CONNECTOR, connector)
    assert len(drain(hub)) == len(drain(hub2)) == 1


def test_a_refused_change_sends_nothing(queues, django_capture_on_commit_callbacks):
    hub, _ = queues
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ConfigurationError):
        new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*contoso.com"})
    assert drain(hub) == []


def test_a_connector_still_linked_cannot_be_removed(hub):
    receive = new_object(RECEIVE_CONNECTOR, {"Name": "From DLP", "Bindings": "0.0.0.0:2626",
                                             "RemoteIPRanges": "10.0.0.5"})
    new_object(SEND_CONNECTOR, {"Name": "To DLP", "LinkedReceiveConnector": receive, "MaxMessageSize": "unlimited",
                                "SmartHosts": "dlp.contoso.com", "DNSRoutingEnabled": False})
    with pytest.raises(ConfigurationError, match=r"'HUB01\\From DLP' can't be removed because it is still used by"):
        remove_object(RECEIVE_CONNECTOR, receive)
