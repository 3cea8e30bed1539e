"""Protocol log (SmtpReceive) and message tracking log of the receive side, in Exchange's formats."""
import csv
import os
import re
import ssl
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.conf import settings

from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, swaks, unique_server_name,
)
from transport.logs.csvlog import RollingLog
from transport.logs.tracking import FIELDS as TRACKING_FIELDS

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(24)
INTERNET, CLIENT = 24025, 24587
# docs/exchange-behaviour.md "Logs": the Exchange sample line.
SAMPLE = ("2019-01-30T10:00:01.123Z,EX1\\Internet Mail,08D675E58CA1DA38,1,10.0.0.6:25,185.234.217.220:61061,*,"
          "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders,"
          "Set Session Permissions")
FIELDS = "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RG")
    server = install_receive_server(name, "rg.contoso.com")
    setup.ensure_mailbox("alice", "alice@contoso.com", "Alice-Passw0rd")
    new_receive_connector(server, "Internet Mail", f"{HOST}:{INTERNET}", PermissionGroups="AnonymousUsers",
                          ProtocolLoggingLevel="Verbose")
    new_receive_connector(server, "Client", f"{HOST}:{CLIENT}", PermissionGroups="ExchangeUsers",
                          AuthMechanism=["Tls", "BasicAuth"], ProtocolLoggingLevel="Verbose")
    new_receive_connector(server, "Quiet", f"{HOST}:24026", PermissionGroups="AnonymousUsers")
    folder = protocol_log_folder(server)
    folder.mkdir(parents=True, exist_ok=True)
    expired = folder / "RECV20000101-1.log"
    expired.write_text("#Software: Microsoft Exchange Server\r\n")
    old = time.time() - timedelta(days=31).total_seconds()
    os.utime(expired, (old, old))
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{INTERNET}", f"{HOST}:{CLIENT}"])
    yield worker
    worker.stop()


def protocol_log_folder(server):
    return Path(settings.EXCHANGE_DATA_DIR) / server.name / server.receive_protocol_log_path


def todays_file(folder, prefix):
    return folder / f"{prefix}{datetime.now(timezone.utc):%Y%m%d}-1.log"


def rows(path):
    lines = path.read_text().splitlines()
    return [line for line in lines if line.startswith("#")], list(csv.reader(l for l in lines if not l.startswith("#")))


def session_rows(path, port, source):
    """Rows of the sessions from `source` to `port`, grouped by session id."""
    _, records = rows(path)
    sessions = {}
    for record in records:
        if record[4] == f"{HOST}:{port}" and record[5].startswith(f"{source}:"):
            sessions.setdefault(record[2], []).append(record)
    return list(sessions.values())


def ended_sessions(path, port, source, count=1, timeout=5):
    """The sessions from `source`, once `count` of them logged their disconnect."""
    deadline = time.monotonic() + timeout
    while True:
        sessions = session_rows(path, port, source)
        if sum(session[-1][6] == "-" for session in sessions) >= count or time.monotonic() > deadline:
            return sessions
        time.sleep(0.05)


def send(port, source, **auth):
    with Client(HOST, port, source) as client:
        client.ehlo("client.example.com")
        if auth:
            client.login(auth["user"], auth["password"])
        client.sendmail("a@example.com" if not auth else auth["user"], ["b@contoso.com"],
                        "Subject: Logged\r\nMessage-ID: <logged@example.com>\r\n\r\nbody\r\n")


def test_it_writes_exchanges_header_lines(worker, server):
    send(INTERNET, "127.0.0.50")
    headers, _ = rows(todays_file(protocol_log_folder(server), "RECV"))
    assert headers[0] == "#Software: Microsoft Exchange Server"
    assert headers[1] == "#Version: 14.0.0.0"
    assert headers[2] == "#Log-Type: SMTP Receive Protocol Log"
    assert DATE_TIME.match(headers[3].removeprefix("#Date: "))
    assert headers[4] == f"#Fields: {FIELDS}"


def test_it_logs_session_permissions_field_by_field_like_exchanges_sample(worker, server):
    send(INTERNET, "127.0.0.51")
    (session,) = session_rows(todays_file(protocol_log_folder(server), "RECV"), INTERNET, "127.0.0.51")
    sample = next(csv.reader([SAMPLE]))
    line = session[1]
    assert len(line) == len(sample) == len(FIELDS.split(","))
    assert DATE_TIME.match(line[0]) and DATE_TIME.match(sample[0])
    assert line[1] == f"{server.name}\\Internet Mail" and sample[1] == "EX1\\Internet Mail"
    assert re.fullmatch(r"[0-9A-F]{16}", line[2]) and re.fullmatch(r"[0-9A-F]{16}", sample[2])
    assert line[3] == sample[3] == "1"
    assert line[4] == f"{HOST}:{INTERNET}"
    assert re.fullmatch(r"127\.0\.0\.51:\d+", line[5])
    assert line[6:] == sample[6:]


def test_it_logs_the_whole_dialogue_in_sequence(worker, server):
    send(INTERNET, "127.0.0.52")
    (session,) = ended_sessions(todays_file(protocol_log_folder(server), "RECV"), INTERNET, "127.0.0.52")
    assert [int(record[3]) for record in session] == list(range(len(session)))
    events = [(record[6], record[7].split(" [InternalId=")[0], record[8]) for record in session]
    assert events[0] == ("+", "", "")
    assert events[2][0] == ">" and events[2][1].startswith("220 rg.contoso.com Microsoft ESMTP MAIL Service ready at ")
    assert events[3:] == [
        ("<", "ehlo client.example.com", ""),
        (">", "250  rg.contoso.com Hello [127.0.0.52] SIZE 10485760 PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS "
              "8BITMIME CHUNKING", ""),
        ("<", "mail FROM:<a@example.com> size=59", ""),
        (">", "250 2.1.0 Sender OK", ""),
        ("<", "rcpt TO:<b@contoso.com>", ""),
        (">", "250 2.1.5 Recipient OK", ""),
        ("<", "data", ""),
        (">", "354 Start mail input; end with <CRLF>.<CRLF>", ""),
        ("*", "<logged@example.com>", "receiving message"),
        (">", "250 2.6.0 <logged@example.com>", ""),
        ("<", "QUIT", ""),  # as the client typed each command
        (">", "221 2.0.0 Service closing transmission channel", ""),
        ("-", "", "Local"),
    ]


def test_it_never_writes_authentication_secrets(worker, server):
    send(CLIENT, "127.0.0.53", user="alice@contoso.com", password="Alice-Passw0rd")
    swaks("--server", f"{HOST}:{CLIENT}", "--local-interface", "127.0.0.53", "--auth", "LOGIN",
          "--auth-user", "alice@contoso.com", "--auth-password", "Alice-Passw0rd", "--from", "alice@contoso.com",
          "--to", "b@contoso.com")
    sessions = ended_sessions(todays_file(protocol_log_folder(server), "RECV"), CLIENT, "127.0.0.53", count=2)
    text = todays_file(protocol_log_folder(server), "RECV").read_text()
    assert len(sessions) == 2
    assert "Alice-Passw0rd" not in text
    for secret in ("QWxpY2UtUGFzc3cwcmQ=", "YWxpY2VAY29udG9zby5jb20=", "AGFsaWNlQGNvbnRvc28uY29tAEFsaWNlLVBhc3N3MHJk"):
        assert secret not in text
    assert ["*", "alice@contoso.com", "authenticated"] in [record[6:] for record in sessions[0]]
    assert ["<", "AUTH PLAIN", ""] in [record[6:] for record in sessions[0]]


def test_it_logs_the_certificate_it_sends_for_starttls(worker, server):
    with Client(HOST, INTERNET, "127.0.0.57") as client:
        client.ehlo("client.example.com")
        client.starttls(context=ssl._create_unverified_context())
    (session,) = ended_sessions(todays_file(protocol_log_folder(server), "RECV"), INTERNET, "127.0.0.57")
    certificate = ExchangeCertificate.objects.get(server=server, services="SMTP")
    facts = [record[6:] for record in session if record[6] == "*"][1:]
    assert facts[:7] == [
        ["*", "", "Sending certificate"],
        ["*", f"CN={server.name}", "Certificate subject"],
        ["*", f"CN={server.name}", "Certificate issuer name"],
        ["*", facts[3][1], "Certificate serial number"],
        ["*", certificate.thumbprint, "Certificate thumbprint"],
        ["*", f"{server.name};rg.contoso.com", "Certificate alternate names"],
        ["*", "", "TLS negotiation succeeded"],
    ]
    assert re.fullmatch(r"[0-9A-F]+", facts[3][1])


def test_it_logs_nothing_for_connectors_without_verbose_logging(worker, server):
    with Client(HOST, 24026, "127.0.0.54") as client:
        client.ehlo("quiet.example.com")
    assert "quiet.example.com" not in todays_file(protocol_log_folder(server), "RECV").read_text()


def test_it_prunes_protocol_logs_older_than_the_maximum_age(worker, server):
    send(INTERNET, "127.0.0.55")
    assert not (protocol_log_folder(server) / "RECV20000101-1.log").exists()


def test_it_writes_a_receive_event_to_the_message_tracking_log(worker, server):
    with Client(HOST, INTERNET, "127.0.0.56") as client:
        client.ehlo("sender.example.com")
        client.mail("a@example.com")
        client.rcpt("b@contoso.com")
        client.rcpt("c@contoso.com")
        code, text = client.data("Subject: Tracked\r\nMessage-ID: <tracked@example.com>\r\n\r\nbody\r\n")
    internal_id = re.search(r"\[InternalId=(\w+)\]", text.decode()).group(1)
    server = TransportServer.objects.get(pk=server.pk)
    path = todays_file(Path(settings.EXCHANGE_DATA_DIR) / server.name / server.message_tracking_log_path, "MSGTRK")
    headers, records = rows(path)
    assert headers[2] == "#Log-Type: Message Tracking Log"
    assert headers[4] == "#Fields: " + ",".join(TRACKING_FIELDS)
    event = dict(zip(TRACKING_FIELDS, next(r for r in records if r[9] == internal_id)))
    assert DATE_TIME.match(event["date-time"])
    assert {key: event[key] for key in (
        "client-ip", "client-hostname", "server-ip", "server-hostname", "connector-id", "source", "event-id",
        "message-id", "recipient-address", "recipient-count", "message-subject", "sender-address", "return-path",
        "directionality")} == {
        "client-ip": "127.0.0.56", "client-hostname": "sender.example.com", "server-ip": HOST,
        "server-hostname": "rg.contoso.com", "connector-id": f"{server.name}\\Internet Mail", "source": "SMTP",
        "event-id": "RECEIVE", "message-id": "<tracked@example.com>",
        "recipient-address": "b@contoso.com;c@contoso.com",
        "recipient-count": "2", "message-subject": "Tracked", "sender-address": "a@example.com",
        "return-path": "a@example.com", "directionality": "Incoming"}
    assert int(event["total-bytes"]) > len("Subject: Tracked\r\n")


def test_it_rolls_files_at_the_size_limit_and_prunes_the_folder_to_its_size(tmp_path):
    log = RollingLog(tmp_path, "RECV", "SMTP Receive Protocol Log", FIELDS.split(","), max_file_size=2000,
                     max_directory_size=5000)
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    for number in range(100):
        log.write(["HUB01\\Internet", "08D675E58CA1DA38", number, "10.0.0.6:25", "10.0.0.7:1025", "*", "x" * 40, ""],
                  moment=moment)
    log.close()
    files = sorted(tmp_path.iterdir(), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
    assert all(re.fullmatch(r"RECV20260102-\d+\.log", path.name) for path in files)
    assert all(path.stat().st_size <= 2000 for path in files)
    assert all(path.read_bytes().startswith(b"#Software: Microsoft Exchange Server\r\n") for path in files)
    assert sum(path.stat().st_size for path in files) <= 5000
    assert files[-1].read_text().rstrip().endswith(",99,10.0.0.6:25,10.0.0.7:1025,*," + "x" * 40 + ",")
    assert files[0].name != "RECV20260102-1.log"
