"""LOG_FORMAT=json: a transport worker (and its receive process) and the console write one JSON object per line,
with the server, connector and session an event is about, for a log shipper to take as they come."""
import json
import os
import socket
import subprocess
import sys

import pytest

from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object
from tests.send_peers import Sink
from tests.transport_helpers import (
    ROOT, Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(49)
BINDING = f"{HOST}:49025"
SMART_HOST_PORT = 49062


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("LJ")
    server = install_receive_server(name, "lj.contoso.com")
    new_receive_connector(server, "Internet", BINDING, PermissionGroups="AnonymousUsers",
                          MaxInboundConnectionPerSource=1, ProtocolLoggingLevel="Verbose")
    new_object(ACCEPTED_DOMAIN, {"Name": "relay.example", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    new_object(SEND_CONNECTOR, {"Name": "Relay", "AddressSpaces": "relay.example", "SmartHosts": f"[{HOST}]",
                                "DNSRoutingEnabled": False, "Port": SMART_HOST_PORT, "SourceTransportServers": [name]})
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("LOG_FORMAT", "json")
        worker = TransportWorker(server.name).start(wait_for=[BINDING])
    yield worker
    worker.stop()


def events(worker):
    """Every line the worker wrote, each parsed as JSON (a line that isn't fails the test)."""
    lines = worker.output.read_text().splitlines()
    assert not [line for line in lines if not line.startswith("{")], "\n".join(lines)
    return [json.loads(line) for line in lines]


def test_it_writes_only_json_lines_with_the_server_of_each_event(worker, server):
    lines = events(worker)
    assert lines and all({"time", "level", "logger", "message"} <= set(event) for event in lines)
    applied = [event for event in lines if event["message"].startswith(f"Transport server {server.name}: receive")]
    assert applied and applied[0]["server"] == server.name and applied[0]["level"] == "INFO"


def test_it_names_the_server_connector_and_session_of_a_refused_session(worker, server):
    with socket.create_connection((HOST, 49025), timeout=10) as first:
        assert first.makefile("rb").readline().startswith(b"220 ")
        with socket.create_connection((HOST, 49025), timeout=10) as second:
            assert second.makefile("rb").readline().startswith(b"421 4.3.2")
    assert wait_for(lambda: any("refused" in event["message"] for event in events(worker)), timeout=10)
    refused = next(event for event in events(worker) if "refused" in event["message"])
    assert (refused["server"], refused["connector"], refused["level"]) == (server.name, "Internet", "INFO")
    assert len(refused["session"]) == 16 and refused["message"] == (
        "Receive session from 127.0.0.1 refused (MaxInboundConnectionPerSource): 421 4.3.2 The maximum number of "
        "concurrent connections has exceeded a limit, closing transmission channel")


def test_it_names_the_message_that_failed_and_its_connector(worker, server):
    with Sink(HOST, SMART_HOST_PORT, replies={"nobody@relay.example": "550 5.1.1 User unknown"}):
        with Client(HOST, 49025) as client:
            client.ehlo("client.example.com")
            client.mail("")
            client.rcpt("nobody@relay.example")
            code, text = client.data(b"Subject: refused\r\n\r\nbody\r\n")
        internal_id = text.decode().split("[InternalId=")[1].split("]")[0]
        assert wait_for(lambda: any(event.get("message_id") == internal_id for event in events(worker)))
    failed = next(event for event in events(worker) if event.get("message_id") == internal_id)
    assert (failed["server"], failed["connector"]) == (server.name, "Relay")
    assert failed["message"].endswith("failed for nobody@relay.example: 550 5.1.1 User unknown")


def test_it_writes_the_consoles_log_lines_as_json_too():
    page = ("import django; django.setup(); from django.test import Client; "
            "Client().get('/no-such-page/', secure=True)")
    result = subprocess.run([sys.executable, "-c", page], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_FORMAT": "json",
                                 "ALLOWED_HOSTS": "testserver"})
    (event,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert (event["logger"], event["level"], event["message"]) == ("django.request", "WARNING",
                                                                   "Not Found: /no-such-page/")
