"""The receive session against hostile or broken clients, over raw sockets: only <CRLF>.<CRLF> ends DATA (no
smuggled transaction), control characters in commands, sessions the client ends without QUIT, slow but
steady clients, over-long AUTH lines, messages too large to hold in memory, and RCPT TO:<postmaster>."""
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from django.conf import settings

from exchange_console.organization import setup
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    receive_process, remove_server_data, server_store, unique_server_name, wait_for,
)
from transport.delivery.mailbox import mailbox_folder
from transport.queue.store import SPOOL_SUFFIX
from transport.receive.acceptance import MEMORY_CONTENT
from transport.receive.session import BARE_LINE_ENDING, COMMAND_NOT_CRLF, INVALID_CHARACTERS, LINE_TOO_LONG

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(25)
INTERNET, TARPIT, SLOW, AUTH, STRICT = range(25025, 25030)
POSTMASTER = "postmaster@contoso.com"


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RH")
    server = install_receive_server(name, "rh.contoso.com")
    # Mail for an ExternalRelay domain with no send connector stays in the queue store after categorizing.
    new_object(ACCEPTED_DOMAIN, {"Name": "Relay", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    setup.ensure_mailbox("postmaster", POSTMASTER, "Postmaster-Passw0rd")
    anonymous = {"PermissionGroups": "AnonymousUsers"}
    new_receive_connector(server, "Internet", f"{HOST}:{INTERNET}", MaxMessageSize="2MB", **anonymous)
    new_receive_connector(server, "Tarpit", f"{HOST}:{TARPIT}", TarpitInterval="00:00:01", **anonymous)
    new_receive_connector(server, "Slow", f"{HOST}:{SLOW}", ConnectionInactivityTimeout="00:00:05", **anonymous)
    new_receive_connector(server, "Auth", f"{HOST}:{AUTH}", AuthMechanism=["Tls", "BasicAuth"],
                          PermissionGroups=["AnonymousUsers", "ExchangeUsers"])
    new_receive_connector(server, "Strict", f"{HOST}:{STRICT}", BareLinefeedRejectionEnabled=True, **anonymous)
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{port}" for port in (INTERNET, AUTH, STRICT)])
    yield worker
    worker.stop()


def dialogue(port, data, source="127.0.0.1"):
    """Send `data` as given (after the banner), then read every reply line until the server closes."""
    with socket.create_connection((HOST, port), timeout=10, source_address=(source, 0)) as raw:
        replies = raw.makefile("rb")
        assert replies.readline().startswith(b"220 ")
        raw.sendall(data)
        return [line.decode().rstrip("\r\n") for line in replies]


def queued_ids(server):
    return set(server_store(server.name).ids())


TRANSACTION = b"HELO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@relay.example>\r\nDATA\r\n"
SMUGGLED = (b"MAIL FROM:<ceo@contoso.com>\r\nRCPT TO:<victim@relay.example>\r\nDATA\r\n"
            b"From: ceo@contoso.com\r\nSubject: smuggled\r\n\r\nPay them.\r\n.\r\n")


@pytest.mark.parametrize("port", [INTERNET, STRICT])   # whether bare line feeds are taken or not
@pytest.mark.parametrize("false_end", [b"\n.\n", b"\r.\r", b"\r.\n", b"\n.\r", b"\r\n.\n", b"\r\n.\r",
                                       b"\n.\r\n", b"\r.\r\n"])
def test_it_takes_only_crlf_dot_crlf_as_the_end_of_data_and_refuses_a_smuggled_transaction(worker, server,
                                                                                          false_end, port):
    before = queued_ids(server)
    replies = dialogue(port, TRANSACTION + b"Subject: cover\r\n\r\nbody" + false_end + SMUGGLED + b"QUIT\r\n")
    after_data = replies[replies.index("354 Start mail input; end with <CRLF>.<CRLF>") + 1:]
    assert after_data == [BARE_LINE_ENDING, "221 2.0.0 Service closing transmission channel"]
    assert queued_ids(server) == before


def test_it_refuses_a_message_with_a_bare_line_feed_and_goes_on_with_the_session(worker, server):
    """BareLinefeedRejectionEnabled $true; the default takes a bare LF as a line ending
    (tests/test_receive_connector_parameters.py)."""
    replies = dialogue(STRICT, TRANSACTION + b"Subject: bare\r\n\r\none\ntwo\r\n.\r\n"
                       + TRANSACTION[len(b"HELO client.example.com\r\n"):] + b"Subject: fine\r\n\r\nok\r\n.\r\n"
                       + b"QUIT\r\n")
    assert replies[4] == BARE_LINE_ENDING
    assert replies[5:8] == ["250 2.1.0 Sender OK", "250 2.1.5 Recipient OK",
                            "354 Start mail input; end with <CRLF>.<CRLF>"]
    assert replies[8].startswith("250 2.6.0 ")


def test_it_does_not_run_a_command_line_that_ends_in_a_bare_line_feed(worker):
    replies = dialogue(INTERNET, b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\n"
                                 b"MAIL FROM:<a@example.com>\r\nQUIT\r\n")
    assert replies[-3:] == [COMMAND_NOT_CRLF, "250 2.1.0 Sender OK", "221 2.0.0 Service closing transmission channel"]


@pytest.mark.parametrize("command", [b"HELO evil\rX-Injected: yes", b"EHLO evil\rX-Injected: yes",
                                     b"HELO evil\x00.example.com", b"EHLO evil\x7f.example.com"])
def test_it_refuses_control_characters_in_the_hello_and_never_puts_them_in_the_received_header(worker, server,
                                                                                              command):
    replies = dialogue(INTERNET, command + b"\r\nHELO client.example.com\r\nMAIL FROM:<a@example.com>\r\n"
                                 b"RCPT TO:<b@relay.example>\r\nDATA\r\nSubject: hello\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert replies[0] == INVALID_CHARACTERS
    assert not any("evil" in reply or "Injected" in reply for reply in replies)
    message_id = re.search(r"\[InternalId=(\w+)\]", replies[5]).group(1)
    content = server_store(server.name).load(message_id)[1]
    assert content.startswith(b"Received: from client.example.com (")
    assert b"Injected" not in content and b"evil" not in content


def test_each_received_header_is_dated_when_its_message_arrived(worker, server):
    for _ in range(2):   # the second message's date is the clock's too, not the first one's kept
        time.sleep(1.1)
        replies = dialogue(INTERNET, b"HELO client.example.com\r\nMAIL FROM:<a@example.com>\r\n"
                                     b"RCPT TO:<b@relay.example>\r\nDATA\r\nSubject: dated\r\n\r\nbody\r\n.\r\n"
                                     b"QUIT\r\n")
        arrived = datetime.now(timezone.utc)
        message_id = re.search(r"\[InternalId=(\w+)\]", replies[4]).group(1)
        received = server_store(server.name).load(message_id)[1].split(b"\r\n", 2)[1]
        assert received.startswith(b" with Microsoft SMTP Server id 14.0.0.0; ")
        assert abs(arrived - parsedate_to_datetime(received.partition(b"; ")[2].decode())) < timedelta(seconds=1.5)


@pytest.mark.parametrize("commands", [b"MAIL FROM:<a\x00b@example.com>\r\n",
                                      b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@relay.example>\x01\r\n",
                                      b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@relay.example>\tNOTIFY=NEVER\r\n"])
def test_it_refuses_control_characters_in_mail_and_rcpt_without_echoing_them(worker, commands):
    replies = dialogue(INTERNET, b"EHLO client.example.com\r\n" + commands + b"QUIT\r\n")
    assert replies[-2:] == [INVALID_CHARACTERS, "221 2.0.0 Service closing transmission channel"]


def test_it_answers_data_on_one_line_whatever_the_message_id_holds(worker):
    """The 250 after DATA names the Message-ID; a folded one, or one with control characters, adds no line."""
    replies = dialogue(INTERNET, b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\n"
                                 b"RCPT TO:<b@relay.example>\r\nDATA\r\nMessage-ID: <id@example.com>\r\n"
                                 b" 250 2.0.0 forged\x0bline\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert [reply for reply in replies if "InternalId" in reply or "forged" in reply] == [
        next(reply for reply in replies if reply.startswith("250 2.6.0 <id@example.com> 250 2.0.0 forged line "))]
    assert replies[-1] == "221 2.0.0 Service closing transmission channel"


BURST = 1000


def first_lines(sockets, timeout):
    """The first line each socket receives within `timeout` (b'' for one closed or silent)."""
    received = {sock: b"" for sock in sockets}
    with selectors.DefaultSelector() as selector:
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                data = key.fileobj.recv(512)
                received[key.fileobj] += data
                if not data or b"\n" in received[key.fileobj]:
                    selector.unregister(key.fileobj)
    return [received[sock].split(b"\r\n")[0].decode(errors="replace") for sock in sockets]


def test_every_client_of_a_burst_gets_an_answer_none_is_left_hanging(worker):
    """A thousand clients connecting at once: each gets the banner or the per-source refusal (421), none is
    dropped from the listen queue unanswered."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * BURST)), hard))
    sockets = []
    try:
        for _ in range(BURST):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((HOST, INTERNET))
            sockets.append(sock)
        lines = first_lines(sockets, timeout=30)
    finally:
        for sock in sockets:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [line for line in lines if not line.startswith(("220 ", "421 "))] == []
    assert sum(line.startswith("220 ") for line in lines) >= 1


def close_waiting(port):
    """Server sockets of this port whose client has closed but the server hasn't (CLOSE-WAIT)."""
    listing = subprocess.run(["ss", "-tanH", "state", "close-wait"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if f"{HOST}:{port}" in line]


def test_it_releases_sessions_that_the_client_ends_without_quit_even_during_a_tarpit(worker):
    for _ in range(50):
        with socket.create_connection((HOST, TARPIT), timeout=10, source_address=("127.0.0.60", 0)) as raw:
            replies = raw.makefile("rb")
            replies.readline()
            raw.sendall(b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<x@elsewhere.example>\r\n")
            while not replies.readline().startswith(b"250 2.1.0"):   # the EHLO lines, then MAIL's
                pass
            raw.shutdown(socket.SHUT_WR)   # FIN while the refused RCPT waits out its tarpit
            assert [line.rstrip() for line in replies] == [b"550 5.7.1 Unable to relay"]   # then the server closes
    assert close_waiting(TARPIT) == []
    with Client(HOST, TARPIT, "127.0.0.60") as client:   # not 421 4.3.2 for too many from this address
        assert client.welcome.startswith(b"rh.contoso.com Microsoft ESMTP MAIL Service ready")


def test_it_keeps_a_slow_but_steady_client_whose_data_outlasts_the_inactivity_timeout(worker, server):
    with socket.create_connection((HOST, SLOW), timeout=15) as raw:
        replies = raw.makefile("rb")
        replies.readline()
        raw.sendall(TRANSACTION)
        while not replies.readline().startswith(b"354 "):
            pass
        for line in range(4):   # 8 seconds of DATA, a line every 2 seconds; the timeout is 5
            raw.sendall(b"X-Line: %d\r\n" % line)
            time.sleep(2)
        raw.sendall(b"\r\nbody\r\n.\r\n")
        assert replies.readline().startswith(b"250 2.6.0 ")


def test_it_refuses_an_over_long_auth_response_and_goes_on(worker):
    replies = dialogue(AUTH, b"EHLO client.example.com\r\nAUTH LOGIN\r\n" + b"A" * 100_000 + b"\r\nNOOP\r\nQUIT\r\n")
    assert replies[-4:] == ["334 VXNlcm5hbWU6", LINE_TOO_LONG, "250 2.0.0 OK",
                            "221 2.0.0 Service closing transmission channel"]


def big_message(lines):
    """A message well past what a session keeps in memory, with dot-stuffed lines all through it."""
    body = b"".join(b"..%06d %s\r\n" % (number, b"x" * 90) for number in range(lines))
    return b"Subject: big\r\n\r\n" + body


def test_it_stores_a_message_too_large_for_memory_intact_and_leaves_no_spool(worker, server):
    message = big_message(12_000)
    assert len(message) > 10 * MEMORY_CONTENT
    replies = dialogue(INTERNET, TRANSACTION + message + b".\r\nQUIT\r\n")
    message_id = re.search(r"\[InternalId=(\w+)\]", replies[-2]).group(1)
    envelope, content = server_store(server.name).load(message_id)
    assert content.endswith(message.replace(b"\r\n..", b"\r\n."))
    assert envelope.size == len(content)
    assert not list(server_store(server.name).root.glob("*" + SPOOL_SUFFIX))


def test_it_refuses_a_message_over_the_size_limit_while_streaming_and_leaves_no_spool(worker, server):
    replies = dialogue(INTERNET, TRANSACTION + big_message(25_000) + b".\r\nQUIT\r\n")
    assert replies[-2] == "552 5.3.4 Message size exceeds fixed maximum message size"
    assert not list(server_store(server.name).root.glob("*" + SPOOL_SUFFIX))


def test_it_takes_rcpt_to_postmaster_for_the_organizations_postmaster(worker):
    replies = dialogue(INTERNET, b"EHLO client.example.com\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<Postmaster>\r\n"
                                 b"DATA\r\nSubject: for the postmaster\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    assert replies[-4:-2] == ["250 2.1.5 Recipient OK", "354 Start mail input; end with <CRLF>.<CRLF>"]
    folder = mailbox_folder(settings.EXCHANGE_DATA_DIR, POSTMASTER) / "new"
    assert wait_for(lambda: any(b"Subject: for the postmaster" in path.read_bytes()
                                for path in folder.glob("*")) if folder.exists() else False)


def spools(server):
    return list(server_store(server.name).root.glob("*" + SPOOL_SUFFIX))


def serves(port):
    try:
        with socket.create_connection((HOST, port), timeout=5) as raw:
            return raw.makefile("rb").readline().startswith(b"220 ")
    except OSError:
        return False


def test_it_deletes_the_spool_of_a_message_whose_receive_process_died_mid_data(worker, server):
    with socket.create_connection((HOST, INTERNET), timeout=10) as raw:
        raw.makefile("rb").readline()
        raw.sendall(TRANSACTION + big_message(3_000))   # no final dot: the session is still spooling
        assert wait_for(lambda: spools(server), timeout=10)
        os.kill(receive_process(worker), signal.SIGKILL)
    assert wait_for(lambda: serves(INTERNET), timeout=30)
    assert spools(server) == []
