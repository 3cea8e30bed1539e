"""Toolbox > Message Tracking and Protocol Logs, read from logs that a real transport worker wrote, by that worker."""
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exchange_console.shell.host import BufferHost
from exchange_console.toolbox import logs
from exchange_console.toolbox.cmdlets import MORE_RESULTS
from tests.shell_helpers import shell
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, new_receive_connector, remove_server_data,
    unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, PORT = "127.0.0.60", 40025
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("TB")
    server = install_receive_server(name, "tb.contoso.com")
    new_receive_connector(server, "Verbose", f"{HOST}:{PORT}", PermissionGroups="AnonymousUsers",
                          ProtocolLoggingLevel="Verbose")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def traffic(server):
    """Two accepted messages and one refused relay attempt through a real worker."""
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
    try:
        for number in (1, 2):
            send(f"Quarterly report {RUN} #{number}")
        with Client(HOST, PORT) as client:
            client.ehlo("relay-tester.example")
            client.mail("spammer@example.net")
            refused = client.rcpt("victim@elsewhere.example")
        yield {"worker": worker, "refused": refused}
    finally:
        worker.stop()


def send(subject):
    with Client(HOST, PORT) as client:
        client.ehlo("client.example.com")
        client.sendmail("kim@example.net", ["b@contoso.com"],
                        f"From: kim@example.net\r\nTo: b@contoso.com\r\nSubject: {subject}\r\n"
                        f"Message-ID: <{subject.replace(' ', '.').replace('#', '')}@example.net>\r\n\r\nHello\r\n")


@pytest.fixture
def admin_client(client, committed_db):
    user, _ = get_user_model().objects.get_or_create(username="olga", defaults={"is_superuser": True})
    client.force_login(user)
    return client


def eventually(probe, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_it_finds_received_messages_by_sender_and_subject(server, traffic):
    events = eventually(lambda: logs.search_tracking(logs.TrackingSearch(sender="kim@example.net", event_id="RECEIVE",
                                                                         subject=RUN), [server]).rows)
    assert [event["message-subject"] for event in events] == [f"Quarterly report {RUN} #1",
                                                              f"Quarterly report {RUN} #2"]
    assert {event["client-ip"] for event in events} == {"127.0.0.1"}
    assert {event["connector-id"] for event in events} == {f"{server.name}\\Verbose"}
    assert all(event["recipient-address"] == "b@contoso.com" for event in events)


def test_the_tracking_page_searches_and_links_each_message_to_its_path(server, traffic, admin_client):
    page = admin_client.get("/toolbox/message-tracking/", {"sender": "kim@example.net", "subject": f"{RUN} #2"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f"Quarterly report {RUN} #2" in html and f"Quarterly report {RUN} #1" not in html
    message_id = f"&lt;Quarterly.report.{RUN}.2@example.net&gt;"
    assert message_id in html
    path = admin_client.get("/toolbox/message-tracking/path/", {"message_id": f"<Quarterly.report.{RUN}.2@example.net>"})
    assert "<strong>RECEIVE</strong> on " + server.name in path.content.decode()


def test_the_tracking_page_refuses_an_end_before_the_start(admin_client, server):
    page = admin_client.get("/toolbox/message-tracking/", {"start": "2026-11-28 10:00", "end": "2026-11-28 09:00"})
    assert "End must be later than Start." in page.content.decode()


def test_it_lists_sessions_and_shows_one_as_an_smtp_dialogue(server, traffic, admin_client):
    sessions = eventually(lambda: logs.protocol_sessions(server, logs.RECEIVE, f"{server.name}\\Verbose").rows)
    assert len(sessions) == 3 and all(session["local_endpoint"] == f"{HOST}:{PORT}" for session in sessions)
    refused = sessions[0]
    page = admin_client.get(f"/toolbox/protocol-logs/{server.name}/sessions/{refused['session_id']}/")
    dialogue = page.content.decode()
    assert "C: ehlo relay-tester.example" in dialogue  # as smtplib sent it
    assert "C: rcpt TO:&lt;victim@elsewhere.example&gt;" in dialogue
    assert "S: 550 5.7.1 Unable to relay" in dialogue
    assert traffic["refused"][0] == 550


def test_the_sessions_page_lists_the_connectors_sessions(server, traffic, admin_client):
    page = admin_client.get("/toolbox/protocol-logs/", {"server": server.name, "connector": f"{server.name}\\Verbose"})
    html = page.content.decode()
    sessions = logs.protocol_sessions(server, logs.RECEIVE).rows
    assert sessions and all(session["session_id"] in html for session in sessions)
    assert "Live tail" in html


def test_the_live_tail_returns_only_what_was_written_since(server, traffic, admin_client):
    connector = f"{server.name}\\Verbose"
    first = admin_client.get(f"/toolbox/protocol-logs/{server.name}/tail/", {"connector": connector})
    position = first.context["position"]
    assert position and first.context["found"].rows
    send(f"Tail check {RUN}")
    later = eventually(lambda: admin_client.get(f"/toolbox/protocol-logs/{server.name}/tail/",
                                                {"connector": connector, "position": position},
                                                HTTP_HX_REQUEST="true").context["found"].rows)
    data = [row["data"] for row in later]
    assert "ehlo client.example.com" in data
    assert not any("relay-tester" in line for line in data)


@pytest.mark.parametrize("url", ["/toolbox/message-tracking/", "/toolbox/message-tracking/path/",
                                 "/toolbox/protocol-logs/"])
def test_toolbox_pages_need_a_signed_in_administrator_and_get(url, client, admin_client, committed_db):
    from django.test import Client as DjangoClient

    assert DjangoClient().get(url).status_code == 302
    assert admin_client.post(url).status_code == 405


def test_get_message_tracking_log_filters_like_exchange(server, traffic):
    command = (f"Get-MessageTrackingLog -Server {server.name} -Sender kim@example.net -EventId RECEIVE "
               f"-MessageSubject 'Quarterly report {RUN}' -End '12/31/2099 23:59:59'")
    subjects = shell(f"{command} -Start '01/01/2026' | Select-Object -ExpandProperty MessageSubject")
    assert subjects == [f"Quarterly report {RUN} #1", f"Quarterly report {RUN} #2"]
    host = BufferHost()
    (first,) = shell(f"{command} -ResultSize 1", host)
    assert host.warnings == f"WARNING: {MORE_RESULTS}\n"   # Exchange's warning: a second event exists
    assert (first.get("EventId"), first.get("Recipients"), first.get("ConnectorId")) == (
        "RECEIVE", ["b@contoso.com"], f"{server.name}\\Verbose")
    assert first.get("TotalBytes") > 0 and first.get("ClientIp") == "127.0.0.1"
    assert shell(f"{command} -Start '12/31/2099'") == []
    host = BufferHost()
    assert len(shell(f"{command} -ResultSize 2", host)) == 2 and host.warnings == ""


def test_get_message_tracking_log_takes_the_moments_get_date_gives(server, traffic):
    command = f"Get-MessageTrackingLog -Server {server.name} -MessageSubject '{RUN} #1'"
    everything = shell(f"{command} | Select-Object -ExpandProperty EventId")
    with timezone.override("Pacific/Auckland"):   # a console far from UTC: the moment counts, not its text
        recent = shell(f"{command} -Start (Get-Date).AddHours(-1) | Select-Object -ExpandProperty EventId")
        future = shell(f"{command} -Start (Get-Date).AddMinutes(5)")
    # read later, `recent` may also hold an event logged meanwhile (the DSN after a FAIL)
    assert everything and recent[:len(everything)] == everything and future == []


def test_get_message_tracking_log_table_shows_exchange_columns(server, traffic):
    (table,) = shell(f"Get-MessageTrackingLog -Server {server.name} -MessageSubject '{RUN} #1' | Format-Table")
    header = next(line for line in table.lines if line.strip()).split()
    assert header == ["EventId", "Source", "Sender", "Recipients", "MessageSubject"]


@pytest.mark.parametrize("command, message", [
    ("Get-MessageTrackingLog -Server NOSUCH", "The operation couldn't be performed because object 'NOSUCH' "
                                              "couldn't be found on 'this organization'."),
    ("Get-MessageTrackingLog -Start 'yesterday'", "Cannot convert value \"yesterday\" to type \"System.DateTime\""),
    ("Get-MessageTrackingLog -ResultSize 0", "Cannot bind parameter 'ResultSize'"),
])
def test_get_message_tracking_log_refuses_bad_arguments(committed_db, command, message):
    from exchange_console.shell.errors import ShellError

    with pytest.raises(ShellError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        shell(command)
