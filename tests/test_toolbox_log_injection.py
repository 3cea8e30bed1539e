r"""Logs that a hostile client can't poison: whatever it sends, one event is one row of the protocol and message
tracking logs, and the readers (Message Tracking, Protocol Logs, the Queue Viewer's message page,
Get-MessageTrackingLog, each answered by the server's worker) skip a line that isn't a row and say how many they
skipped."""
import csv
import io
import re
import socket
import uuid
from datetime import datetime, timezone

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone as django_timezone

from transport.queue.models import DeliveryQueue, QueuedMessage
from exchange_console.shell.host import BufferHost
from exchange_console.toolbox import logs
from tests.shell_helpers import shell
from tests.transport_helpers import (
    TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name,
)
from transport.logs import protocol, reading, tracking
from transport.logs.csvlog import RollingLog
from transport.snapshot import build_configuration

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST, PORT, DAMAGED_PORT = loopback_host(64), 40425, 40426
RUN = uuid.uuid4().hex[:8]
# Every kind of command a client can put a control character or a line separator in (\x85, U+2028 and U+2029 as
# UTF-8); the receive side may refuse some of them, but logs each one it reads.
HOSTILE = (
    b"EHLO vt\x0bff\x0cfs\x1cgs\x1drs\x1e.example",
    b"EHLO nel\xc2\x85.example",
    b"EHLO ls\xe2\x80\xa8ps\xe2\x80\xa9.example",
    b"EHLO client.example.com",
    b"MAIL FROM:<mallory\x0b@example.net>",
    b"RCPT TO:<b\x1c@contoso.com>",
    b"RSET",
    b"NOOP vt\x0bff\x0cfs\x1cgs\x1drs\x1e",
    b"NOOP cr\rin the middle",
    b"VRFY nul\x00del\x7f",
    b"XLOG typed \\x0b",
)
# What the protocol log shows of the commands it logs whole: visible escapes, a backslash the client typed doubled.
ESCAPED = ("NOOP vt\\x0bff\\x0cfs\\x1cgs\\x1drs\\x1e", "NOOP cr\\x0din the middle", "VRFY nul\\x00del\\x7f",
           "XLOG typed \\\\x0b")
SUBJECT = f"Quarterly report {RUN}"   # the Subject the client sent, with its control characters as spaces
UNESCAPED = re.compile(rb"[\x00-\x1f\x7f]|\xc2\x85|\xe2\x80[\xa8\xa9]")


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("LI")
    server = install_receive_server(name, "li.contoso.com")
    new_receive_connector(server, "Internet", f"{HOST}:{PORT}", PermissionGroups="AnonymousUsers",
                          ProtocolLoggingLevel="Verbose", MaxProtocolErrors="Unlimited")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def hostile(server):
    """One anonymous session through a real worker: every hostile command, then a message whose Subject holds
    control characters too. Returns the replies to the hostile commands."""
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
    try:
        with socket.create_connection((HOST, PORT), timeout=10) as raw:
            replies = raw.makefile("rb")
            read_reply(replies)
            answers = {line: command(raw, replies, line) for line in HOSTILE}
            for line in (b"MAIL FROM:<mallory@example.net>", b"RCPT TO:<b@contoso.com>", b"DATA"):
                command(raw, replies, line)
            accepted = command(raw, replies, b"Subject: Quarterly\x0breport\x1c" + RUN.encode() + b"\r\n"
                               b"Message-ID: <hostile." + RUN.encode() + b"@example.net>\r\n\r\nHello\r\n.")
            command(raw, replies, b"QUIT")
        assert accepted.startswith("250 2.6.0"), accepted   # every row but the disconnect is written by now
        yield answers
    finally:
        worker.stop()


def command(raw, replies, line):
    raw.sendall(line + b"\r\n")
    return read_reply(replies)


def read_reply(replies):
    """A whole reply, continuation lines included."""
    lines = [replies.readline()]
    while lines[-1][3:4] == b"-":
        lines.append(replies.readline())
    return b"".join(lines).decode("ascii", "replace")


def session_id(server):
    sessions = logs.protocol_sessions(server).rows
    return sessions[0]["session_id"] if sessions else ""


def folders(server):
    """Where the server's worker writes its logs."""
    return reading.LogFolders.of(build_configuration(server.name))


def log_lines(path):
    """The physical lines of a log file (CRLF ends a line; anything else is part of one)."""
    data = path.read_bytes()
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


@pytest.fixture
def admin_client(client, committed_db):
    user, _ = get_user_model().objects.get_or_create(username="olga", defaults={"is_superuser": True})
    client.force_login(user)
    return client


def test_it_writes_every_event_of_a_hostile_session_as_one_row(server, hostile):
    for path, fields in ((folders(server).protocol_files(reading.RECEIVE)[-1], protocol.FIELDS),
                         (reading.log_files(folders(server).tracking, "MSGTRK")[-1], tracking.FIELDS)):
        lines = log_lines(path)
        assert [line for line in lines if UNESCAPED.search(line)] == []
        rows = list(csv.reader(line.decode() for line in lines if not line.startswith(b"#")))
        assert rows and {len(row) for row in rows} == {len(fields)}


def test_it_logs_what_the_client_sent_escaped_and_the_refusal_of_a_line_that_isnt_ascii(server, hostile):
    dialogue = logs.session_dialogue(server, session_id(server))
    rows, skipped = dialogue.rows, dialogue.skipped
    received = [row["data"] for row in rows if row["event"] == "<"]
    sent = [row["data"] for row in rows if row["event"] == ">"]
    assert skipped == 0
    assert [int(row["sequence-number"]) for row in rows] == list(range(len(rows)))
    assert [line for line in ESCAPED if line not in received] == []
    for line in (b"EHLO nel\xc2\x85.example", b"EHLO ls\xe2\x80\xa8ps\xe2\x80\xa9.example"):
        assert hostile[line].startswith("5") and hostile[line].strip() in sent


def test_the_protocol_logs_pages_show_the_hostile_session(server, hostile, admin_client):
    listing = admin_client.get("/toolbox/protocol-logs/", {"server": server.name})
    assert listing.status_code == 200
    assert session_id(server) in listing.content.decode() and "malformed" not in listing.content.decode()
    page = admin_client.get(f"/toolbox/protocol-logs/{server.name}/sessions/{session_id(server)}/")
    dialogue = page.content.decode()
    assert page.status_code == 200
    assert "C: NOOP vt\\x0bff\\x0cfs\\x1cgs\\x1drs\\x1e" in dialogue
    assert "C: XLOG typed \\\\x0b" in dialogue
    tail = admin_client.get(f"/toolbox/protocol-logs/{server.name}/tail/", {"connector": f"{server.name}\\Internet"})
    assert tail.status_code == 200 and "C: NOOP cr\\x0din the middle" in tail.content.decode()


def test_message_tracking_shows_the_message_with_the_control_characters_of_its_subject_as_spaces(
        server, hostile, admin_client):
    page = admin_client.get("/toolbox/message-tracking/", {"subject": RUN})
    html = page.content.decode()
    assert page.status_code == 200
    assert SUBJECT in html and f"&lt;hostile.{RUN}@example.net&gt;" in html and "malformed" not in html
    host = BufferHost()
    (event,) = shell(f"Get-MessageTrackingLog -Server {server.name} -MessageSubject '{RUN}' -EventId RECEIVE", host)
    assert (event.get("EventId"), event.get("MessageSubject"), host.warnings) == ("RECEIVE", SUBJECT, "")


# --- logs with lines that aren't rows --------------------------------------------------------------------

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
MESSAGE_ID = f"<old.{RUN}@example.net>"


def tracking_row(event_id, subject="Old times"):
    return ["192.0.2.1", "old.example", "10.0.0.6", "lm.contoso.com", "", "LM\\Internet", "SMTP", event_id,
            "1234", MESSAGE_ID, "b@contoso.com", "", "100", "1", "", "", subject, "a@example.net", "a@example.net",
            "", "Incoming", "", "", "", ""]


def protocol_row(sequence, event, data, context=""):
    return ["LM\\Internet", "08D675E58CA1DA38", sequence, "10.0.0.6:25", "192.0.2.1:1025", event, data, context]


def old_line(values):
    """A row as the writer wrote it before it escaped anything (CSV quoting only)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["2026-01-02T03:04:05.000Z", *values])
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def damaged(committed_db):
    """A server whose tracking and protocol logs each hold good rows and five lines that aren't rows, and its
    worker, which reads them for the console."""
    server = install_receive_server(unique_server_name("LM"), "lm.contoso.com")
    new_receive_connector(server, "Internet", f"{HOST}:{DAMAGED_PORT}", PermissionGroups="AnonymousUsers")
    written = folders(server)
    track = RollingLog(written.tracking, "MSGTRK", "Message Tracking Log", tracking.FIELDS)
    for event_id in ("RECEIVE", "DELIVER"):
        track.write(tracking_row(event_id), moment=MOMENT)
    track.close()
    with open(reading.log_files(written.tracking, "MSGTRK")[0], "ab") as file:
        file.write(b"2026-01-02T03:04:05.000Z,192.0.2.1,too,few,fields\r\n")
        file.write(old_line(tracking_row("RECEIVE", subject="split\u2028here")))   # what old readers split in two
        file.write(old_line(tracking_row("RECEIVE", subject="Caf")).replace(b"Caf", b"Caf\xe9"))   # Latin-1
        file.write(old_line(tracking_row("RECEIVE")).replace(b"2026-01-02T03", b"2026-13-02T03"))
        file.write(old_line(tracking_row("RECEIVE")).replace(b",100,", b",lots,"))
    recv = RollingLog(written.receive_protocol, "RECV", "SMTP Receive Protocol Log", protocol.FIELDS)
    for number, (event, data) in enumerate((("+", ""), ("<", "EHLO old.example"), ("-", ""))):
        recv.write(protocol_row(number, event, data), moment=MOMENT)
    recv.close()
    with open(written.protocol_files(reading.RECEIVE)[0], "ab") as file:
        file.write(b"2026-01-02T03:04:05.000Z,LM\\Internet,08D675E58CA1DA38\r\n")
        file.write(old_line(protocol_row(3, "<", "EHLO split\x0bhere")))
        file.write(old_line(protocol_row(4, "<", "EHLO x")).replace(b"EHLO x", b"EHLO \xff\xfe"))
        file.write(old_line(protocol_row(5, "<", "EHLO y")).replace(b"2026-01-02T03:04:05.000Z", b"yesterday"))
        file.write(old_line(protocol_row("six", "<", "EHLO z")))
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{DAMAGED_PORT}"])
    try:
        # Queued once the worker runs, so that it has no reason to try delivering it.
        queue = DeliveryQueue.objects.create(server=server, delivery_type="SmartHostConnectorDelivery",
                                             next_hop_domain="[192.0.2.9]", status="Retry")
        message = QueuedMessage.objects.create(queue=queue, store_id="gone", subject="Old times",
                                               internet_message_id=MESSAGE_ID, date_received=django_timezone.now())
        yield {"server": server, "message": message}
    finally:
        worker.stop()
        remove_server_data(server.name)


NOTICE = "5 malformed log rows were skipped."


def test_the_tracking_pages_skip_lines_that_arent_rows_and_say_how_many(damaged, admin_client):
    page = admin_client.get("/toolbox/message-tracking/", {"server": damaged["server"].name})
    html = page.content.decode()
    assert page.status_code == 200
    assert NOTICE in html and html.count("Old times") == 2
    path = admin_client.get("/toolbox/message-tracking/path/", {"message_id": MESSAGE_ID})
    assert path.status_code == 200
    assert NOTICE in path.content.decode() and "<strong>DELIVER</strong>" in path.content.decode()


def test_the_queue_viewers_message_page_skips_them_too(damaged, admin_client):
    page = admin_client.get(f"/toolbox/queues/messages/{damaged['message'].pk}/")
    assert page.status_code == 200
    assert NOTICE in page.content.decode() and "<strong>RECEIVE</strong>" in page.content.decode()


def test_get_message_tracking_log_skips_them_with_a_warning(damaged):
    host = BufferHost()
    events = shell(f"Get-MessageTrackingLog -Server {damaged['server'].name}", host)
    assert [event.get("EventId") for event in events] == ["RECEIVE", "DELIVER"]
    assert host.warnings == "WARNING: Skipped 5 malformed row(s) of the message tracking logs.\n"


def test_the_protocol_logs_pages_skip_lines_that_arent_rows_and_say_how_many(damaged, admin_client):
    name = damaged["server"].name
    listing = admin_client.get("/toolbox/protocol-logs/", {"server": name}).content.decode()
    assert NOTICE in listing and "08D675E58CA1DA38" in listing
    session = admin_client.get(f"/toolbox/protocol-logs/{name}/sessions/08D675E58CA1DA38/")
    assert session.status_code == 200
    assert NOTICE in session.content.decode() and "C: EHLO old.example" in session.content.decode()
    assert "split" not in session.content.decode()
    tail = admin_client.get(f"/toolbox/protocol-logs/{name}/tail/", {"connector": "LM\\Internet"})
    assert tail.status_code == 200 and NOTICE in tail.content.decode()
    junk = admin_client.get(f"/toolbox/protocol-logs/{name}/tail/", {
        "connector": "LM\\Internet", "position": tail.context["position"].split(":")[0] + ":junk"},
        HTTP_HX_REQUEST="true")
    assert junk.status_code == 200 and NOTICE in junk.content.decode()


def test_it_writes_control_characters_and_separators_as_visible_escapes(tmp_path):
    log = RollingLog(tmp_path, "RECV", "SMTP Receive Protocol Log", protocol.FIELDS)
    hostile = "".join(map(chr, range(0x20))) + "\x7f\x85\u2028\u2029 EX1\\Internet \\x0b \\"
    log.write(protocol_row(0, "<", hostile), moment=MOMENT)
    log.close()
    (path,) = tmp_path.iterdir()
    lines = log_lines(path)
    assert len(lines) == 6 and len(path.read_text().splitlines()) == 6
    assert next(csv.reader([lines[5].decode()]))[7] == (
        "".join(f"\\x{code:02x}" for code in range(0x20)) + "\\x7f\\x85\\u2028\\u2029 EX1\\Internet \\\\x0b \\")
