"""The console reads a message's content and a server's logs through the transport server that holds them, never
from that server's disk: a real worker with a data folder of its own (as on a machine of its own, sharing only the
broker) keeps a message queued for a smart host that refuses connections; Export-Message and the Queue Viewer's
message page get it from that worker, as Message Tracking, Get-MessageTrackingLog and Protocol Logs get its logs; a
View-Only administrator's page leaves the headers out, and a server whose worker is gone (or never ran) is named
instead of failing the page."""
import html
import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from exchange_console.accounts.models import RoleGroup, RoleGroupMember
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.services import acting_as, new_object
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from exchange_console.toolbox import logs
from tests.shell_helpers import shell
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    unique_server_name, wait_for,
)
from transport.queue.models import MessageStatus, QueuedMessage
from transport.queue.store import MessageStore
from transport.snapshot import queue_directory

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, PORT, SMART_HOST_PORT = loopback_host(66), 26625, 26626   # nothing listens on the smart host's port
BINDING = f"{HOST}:{PORT}"
SUBJECT = "Quarterly figures"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RT")
    server = install_receive_server(name, "rt.contoso.com")
    # Externally secured, like a relay for printers and alert systems: its clients may relay.
    new_receive_connector(server, "Relay", BINDING, RemoteIPRanges="127.0.0.1",
                          PermissionGroups="ExchangeServers", AuthMechanism="Tls,ExternalAuthoritative",
                          ProtocolLoggingLevel="Verbose")
    new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*", "SmartHosts": f"[{HOST}]",
                                "Port": SMART_HOST_PORT, "DNSRoutingEnabled": False, "SourceTransportServers": name})
    return server


@pytest.fixture(scope="module")
def worker(server, tmp_path_factory):
    """The server's worker, on a data folder that isn't the console's."""
    data_dir = tmp_path_factory.mktemp("worker-machine")
    started = TransportWorker(server.name, data_dir=data_dir).start(wait_for=[BINDING])
    yield started
    started.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def queued(server, worker):
    """One message waiting in Retry: the smart host refuses connections."""
    with Client(HOST, PORT) as client:
        client.sendmail("kim@contoso.com", ["partner@fabrikam.example"],
                        f"From: kim@contoso.com\r\nTo: partner@fabrikam.example\r\nSubject: {SUBJECT}\r\n"
                        f"Message-ID: <{time.time_ns()}@contoso.com>\r\n\r\nAttached.\r\n")
    assert wait_for(lambda: QueuedMessage.objects.filter(queue__server=server, status=MessageStatus.RETRY).exists())
    return QueuedMessage.objects.select_related("queue__server").get(queue__server=server)


@pytest.fixture(scope="module")
def idle(server):
    """Another server of the organization, whose worker never ran."""
    return install_receive_server(unique_server_name("RI"), "ri.contoso.com")


@pytest.fixture
def olga(committed_db):
    user, _ = get_user_model().objects.get_or_create(username="olga", defaults={"is_superuser": True})
    return user


def administrator(name, role_group, servers=()):
    user, created = get_user_model().objects.get_or_create(username=name)
    if created:
        member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(role_group))
        member.servers.set(servers)
    return user


def page_of(client, user, message):
    client.force_login(user)
    response = client.get(f"/toolbox/queues/messages/{message.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def get_page(client, user, url, **params):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def not_read(reason):
    """What a page says of a server whose logs it couldn't read."""
    return f"The logs couldn't be read: {reason}"


def export(user, message):
    with acting_as(user, "EMS"):
        (content,) = shell(f"Export-Message '{message.identity}'")
    return content


def test_export_message_returns_the_bytes_the_worker_stored(worker, queued, olga):
    on_its_disk = worker.data_dir / queue_directory(queued.queue.server).relative_to(settings.EXCHANGE_DATA_DIR)
    stored = MessageStore(on_its_disk).load(queued.store_id)[1]
    assert export(olga, queued) == stored
    assert stored.startswith(b"Received: from ") and f"Subject: {SUBJECT}\r\n".encode() in stored


def test_the_message_page_shows_the_headers_the_worker_read(server, queued, olga, client):
    page = page_of(client, olga, queued)
    assert f"Subject: {SUBJECT}\n" in page and "From: kim@contoso.com\n" in page
    manager = administrator("sam", RoleGroup.SERVER_MANAGEMENT, [server])   # manages this server's queues
    assert f"Subject: {SUBJECT}\n" in page_of(client, manager, queued)


def test_the_message_page_shows_the_tracking_history_the_worker_read(server, queued, olga, client):
    assert f"<strong>RECEIVE</strong> on {server.name}: partner@fabrikam.example" in page_of(client, olga, queued)


def test_message_tracking_finds_the_receive_event_and_names_the_server_it_couldnt_search(
        server, idle, queued, olga, client):
    page = get_page(client, olga, "/toolbox/message-tracking/", subject=SUBJECT, event_id="RECEIVE")
    assert page.count(f"<td>{server.name}</td><td>RECEIVE</td>") == 1 and f"<td>{SUBJECT}</td>" in page
    assert not_read(f"{idle.name}: The transport worker is not running.") in page
    host = BufferHost()
    (event,) = shell(f"Get-MessageTrackingLog -MessageSubject '{SUBJECT}' -EventId RECEIVE", host)
    assert (event.get("EventId"), event.get("Sender"), event.get("Recipients")) == (
        "RECEIVE", "kim@contoso.com", ["partner@fabrikam.example"])
    assert host.warnings == (f"WARNING: Couldn't search the message tracking logs of a server: {idle.name}: "
                             f"The transport worker is not running.\n")


def test_the_protocol_logs_pages_show_the_workers_session(server, queued, olga, client):
    connector = f"{server.name}\\Relay"
    (session,) = logs.protocol_sessions(server, logs.RECEIVE, connector).rows
    listing = get_page(client, olga, "/toolbox/protocol-logs/", server=server.name, connector=connector)
    assert session["session_id"] in listing and "couldn't be read" not in listing
    dialogue = get_page(client, olga, f"/toolbox/protocol-logs/{server.name}/sessions/{session['session_id']}/")
    assert "C: mail FROM:<kim@contoso.com>" in dialogue and "S: 250 2.6.0 " in dialogue
    tail = get_page(client, olga, f"/toolbox/protocol-logs/{server.name}/tail/", connector=connector)
    assert "C: rcpt TO:<partner@fabrikam.example>" in tail


def test_the_console_never_opens_the_servers_disk(server, worker, queued, olga, client):
    export(olga, queued)
    page_of(client, olga, queued)
    get_page(client, olga, "/toolbox/message-tracking/", subject=SUBJECT)
    shell(f"Get-MessageTrackingLog -Server {server.name}")
    get_page(client, olga, "/toolbox/protocol-logs/", server=server.name)
    assert (worker.data_dir / server.name / "Queue").is_dir()
    assert not (Path(settings.EXCHANGE_DATA_DIR) / server.name).exists()


def test_a_view_only_administrator_sees_the_message_but_not_its_headers(queued, client):
    viewer = administrator("victor", RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT)
    page = page_of(client, viewer, queued)
    assert f"<h1>{SUBJECT}</h1>" in page and "partner@fabrikam.example" in page
    assert "Subject: " not in page and 'class="headers"' not in page
    assert ("Headers are message content: they're shown to administrators who manage this server's queues, as "
            "Export-Message is. Your role groups let you see the message's properties and history only.") in page


def test_the_page_says_when_the_server_no_longer_has_the_message(server, queued, olga, client):
    gone = QueuedMessage.objects.create(queue=queued.queue, store_id="gone", subject="Removed meanwhile",
                                        status=MessageStatus.SUSPENDED, date_received=timezone.now())
    try:
        page = page_of(client, olga, gone)
    finally:
        gone.delete()
    assert (f"The headers couldn't be read: {server.name} no longer has the message in its queue store."
            in page)


@override_settings(CONSOLE_READ_TIMEOUT=3)
def test_export_message_says_so_when_the_worker_doesnt_answer(server, worker, queued, olga, client):
    worker.kill()       # its last heartbeat is still recent: the console asks, and waits out the timeout
    started = time.monotonic()
    with pytest.raises(ShellError) as refused:
        export(olga, queued)
    assert 3 <= time.monotonic() - started < 6
    reason = f"{server.name} didn't answer within 3 seconds."
    assert str(refused.value) == f"The message '{queued.identity}' couldn't be exported: {reason}"
    page = page_of(client, olga, queued)
    assert f"The headers couldn't be read: {reason}" in page and not_read(reason) in page


def test_export_message_says_so_at_once_when_the_worker_stopped(server, worker, queued, olga, client):
    worker.start(wait_for=[BINDING])
    worker.stop()
    started = time.monotonic()
    with pytest.raises(ShellError) as refused:
        export(olga, queued)
    assert time.monotonic() - started < 1
    reason = f"{server.name}: The transport worker is not running."
    assert str(refused.value) == f"The message '{queued.identity}' couldn't be exported: {reason}"
    assert f"The headers couldn't be read: {reason}" in page_of(client, olga, queued)


def test_the_log_pages_say_at_once_that_the_worker_stopped(server, worker, queued, olga, client):
    """Runs after the worker stopped (the test above)."""
    started = time.monotonic()
    tracking = get_page(client, olga, "/toolbox/message-tracking/", subject=SUBJECT)
    sessions = get_page(client, olga, "/toolbox/protocol-logs/", server=server.name)
    host = BufferHost()
    assert shell(f"Get-MessageTrackingLog -Server {server.name}", host) == []
    assert time.monotonic() - started < 2
    reason = f"{server.name}: The transport worker is not running."
    assert not_read(reason) in tracking and "No messages match the search." in tracking
    assert not_read(reason) in sessions
    assert host.warnings == f"WARNING: Couldn't search the message tracking logs of a server: {reason}\n"
