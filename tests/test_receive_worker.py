"""The transport worker: listeners for the enabled receive connectors, live reconfiguration, bindings that
can't open, and durable acceptance across kill -9."""
import os
import re
import signal
import socket
import time

import pytest

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.organization.schemas import ACCEPTED_DOMAIN
from exchange_console.services import new_object, remove_object
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    receive_process, reconfigure, remove_server_data, server_store, unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(21)


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RW")
    server = install_receive_server(name, "rw.contoso.com")
    # Mail for an ExternalRelay domain with no send connector stays queued (Unreachable) after categorizing.
    new_object(ACCEPTED_DOMAIN, {"Name": "Relay", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", f"{HOST}:21025", PermissionGroups="AnonymousUsers")
    new_receive_connector(server, "Off", f"{HOST}:21026", PermissionGroups="AnonymousUsers", Enabled=False)
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:21025"])
    yield worker
    worker.stop()


def connector(server, name):
    return ReceiveConnector.objects.get(server=server, name=name)


def can_connect(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def send_one(port, subject="Hello", host=HOST, recipient="b@contoso.com"):
    with Client(host, port) as client:
        client.ehlo("client.example.com")
        message = f"From: a@example.com\r\nTo: {recipient}\r\nSubject: {subject}\r\n\r\nbody\r\n"
        client.mail("a@example.com")
        client.rcpt(recipient)
        code, text = client.data(message)
        return code, text.decode()


def test_it_listens_on_the_bindings_of_enabled_connectors_only(worker):
    assert worker.status()["bindings"] == {f"{HOST}:21025": "Listening"}
    assert can_connect(21025)
    assert not can_connect(21026)


def test_it_opens_and_closes_bindings_within_one_second_of_a_change(worker, server):
    seconds = reconfigure(worker, RECEIVE_CONNECTOR, connector(server, "Off"), {"Enabled": True})
    assert seconds < 1
    assert can_connect(21026)
    seconds = reconfigure(worker, RECEIVE_CONNECTOR, connector(server, "Off"), {"Bindings": f"{HOST}:21027"})
    assert seconds < 1
    assert can_connect(21027) and not can_connect(21026)
    reconfigure(worker, RECEIVE_CONNECTOR, connector(server, "Off"), {"Enabled": False})
    assert not can_connect(21027)


def test_it_applies_new_policy_to_new_sessions_while_open_ones_finish_under_the_old(worker, server):
    with Client(HOST, 21025) as old_session:
        assert old_session.ehlo("client.example.com")[1].decode().startswith("rw.contoso.com Hello")
        seconds = reconfigure(worker, RECEIVE_CONNECTOR, connector(server, "Internet"),
                              {"Fqdn": "mail.contoso.com", "Banner": "220 Welcome to Contoso"})
        assert seconds < 1
        with Client(HOST, 21025) as new_session:
            assert new_session.ehlo_resp is None
            code, text = new_session.ehlo("client.example.com")
            assert text.decode().startswith("mail.contoso.com Hello [127.0.0.1]")
        code, text = old_session.ehlo("client.example.com")
        assert text.decode().startswith("rw.contoso.com Hello")
        old_session.mail("a@example.com")
        old_session.rcpt("b@contoso.com")
        assert old_session.data("Subject: old\r\n\r\nx\r\n")[0] == 250


def test_it_shows_the_new_banner_to_new_sessions(worker, server):
    reconfigure(worker, RECEIVE_CONNECTOR, connector(server, "Internet"), {"Banner": "220 Contoso mail"})
    with socket.create_connection((HOST, 21025), timeout=5) as raw:
        assert raw.makefile("rb").readline() == b"220 Contoso mail\r\n"


def test_it_reports_a_binding_that_cannot_open_and_keeps_the_others(worker, server):
    with socket.socket() as squatter:
        squatter.bind((HOST, 21028))
        squatter.listen()
        new_receive_connector(server, "Squatted", f"{HOST}:21028", PermissionGroups="AnonymousUsers")
        status = worker.wait_for_status(lambda bindings: f"{HOST}:21028" in bindings)
        assert status["bindings"][f"{HOST}:21028"] == f"The address {HOST}:21028 is already in use."
        assert status["bindings"][f"{HOST}:21025"] == "Listening"
        assert send_one(21025)[0] == 250
    remove_object(RECEIVE_CONNECTOR, connector(server, "Squatted"))


def test_it_lets_two_servers_run_side_by_side_and_reports_the_second_ones_taken_binding(worker, server):
    assert worker.process.poll() is None and can_connect(21025), "the first server's worker must hold 21025"
    other = install_receive_server(unique_server_name("RX"), "rx.contoso.com")
    new_receive_connector(other, "Own", f"{HOST}:21030", PermissionGroups="AnonymousUsers")
    new_receive_connector(other, "Taken", f"{HOST}:21025", RemoteIPRanges="127.0.0.0/8",
                          PermissionGroups="AnonymousUsers")
    second = TransportWorker(other.name).start(wait_for=[f"{HOST}:21030", f"{HOST}:21025"])
    try:
        bindings = second.status()["bindings"]
        assert bindings[f"{HOST}:21030"] == "Listening"
        assert bindings[f"{HOST}:21025"] == f"The address {HOST}:21025 is already in use."
        with Client(HOST, 21030) as client:
            assert client.ehlo("x.example.com")[1].decode().startswith("rx.contoso.com Hello")
    finally:
        second.stop()
        remove_server_data(other.name)


def raw_transaction(port, data, host=HOST):
    """One transaction over a plain socket, the message data (dot-stuffed, final dot included) sent as given
    with QUIT pipelined behind it; returns the reply to the data."""
    with socket.create_connection((host, port), timeout=10) as raw:
        replies = raw.makefile("rb")
        replies.readline()
        raw.sendall(b"HELO client.example.com\r\n")
        replies.readline()
        raw.sendall(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@relay.example>\r\nDATA\r\n")
        assert [replies.readline()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
        raw.sendall(data + b"QUIT\r\n")
        reply = replies.readline().decode()
        assert replies.readline().startswith(b"221")
        return reply


def stored_content(server, reply):
    message_id = re.search(r"\[InternalId=(\w+)\]", reply).group(1)
    content = server_store(server.name).load(message_id)[1]
    return content[content.index(b"\r\n\r\n") + 4:]   # the body, after our Received and Message-ID lines


def test_it_stores_the_data_unstuffed_up_to_the_final_dot_line_only(worker, server):
    lines = [b"Subject: dots", b"", b"..leading dot, stuffed", b"ends with a dot.", b"...",
             b"x" * 3000 + b".", b"a line.", b""]
    reply = raw_transaction(21025, b"\r\n".join(lines) + b".\r\n")
    assert reply.startswith("250 2.6.0")
    assert stored_content(server, reply) == (b".leading dot, stuffed\r\nends with a dot.\r\n..\r\n"
                                             + b"x" * 3000 + b".\r\na line.\r\n")


def test_it_accepts_a_message_with_no_data_at_all(worker, server):
    reply = raw_transaction(21025, b".\r\n")
    assert reply.startswith("250 2.6.0")
    message_id = re.search(r"\[InternalId=(\w+)\]", reply).group(1)
    content = server_store(server.name).load(message_id)[1]
    assert content.startswith(b"Received: from client.example.com") and content.endswith(b"\r\n")


def test_it_refuses_a_command_line_over_1000_characters_and_reads_the_next_one(worker):
    with socket.create_connection((HOST, 21025), timeout=10) as raw:
        replies = raw.makefile("rb")
        replies.readline()
        for length in (2000, 100_000):   # past the line limit; past the read buffer too
            raw.sendall(b"HELO " + b"x" * length + b".example.com\r\nHELO client.example.com\r\n")
            assert replies.readline() == b"500 5.5.2 Line too long\r\n"
            assert replies.readline().startswith(b"250 ")


def test_it_starts_the_receive_process_again_when_it_dies(worker, server):
    before = worker.status()["updated"]
    os.kill(receive_process(worker), signal.SIGKILL)
    status = worker.wait_for_status(lambda bindings: bindings.get(f"{HOST}:21025") == "Listening", previous=before)
    assert status["updated"] != before
    assert "The receive process exited" in worker.output.read_text()
    assert send_one(21025)[0] == 250


def test_it_shuts_down_cleanly_when_its_whole_process_group_is_told_to_stop(committed_db):
    """What Ctrl-C on `make run` does: TERM to every process of the group, the receive process included."""
    other = install_receive_server(unique_server_name("RT"), "rt.contoso.com")
    new_receive_connector(other, "Own", f"{HOST}:21032", PermissionGroups="AnonymousUsers")
    stopping = TransportWorker(other.name).start(wait_for=[f"{HOST}:21032"])
    try:
        os.killpg(stopping.process.pid, signal.SIGTERM)
        assert stopping.process.wait(30) == 0
        log = stopping.output.read_text()
        assert "starting it again" not in log and "Unrecoverable error" not in log
        assert not can_connect(21032)
    finally:
        stopping.stop()
        remove_server_data(other.name)


def test_it_keeps_an_acknowledged_message_when_killed_and_hands_it_on_after_restart(worker, server):
    store = server_store(server.name)
    code, text = send_one(21025, subject="Durable", recipient="b@relay.example")
    worker.kill()
    assert code == 250
    deadline = time.monotonic() + 5
    while can_connect(21025):   # the receive process dies with its worker
        assert time.monotonic() < deadline, "the receive process outlived its killed worker"
        time.sleep(0.05)
    message_id = re.search(r"\[InternalId=(\w+)\]", text).group(1)
    envelope, content = store.load(message_id)
    assert envelope.rcpt_tos == ("b@relay.example",) and envelope.mail_from == "a@example.com"
    assert content.startswith(b"Received: from client.example.com (127.0.0.1) by ")
    assert b"Subject: Durable\r\n\r\nbody\r\n" in content
    worker.start(wait_for=[f"{HOST}:21025"])
    assert message_id in store.ids()
    deadline = time.monotonic() + 10
    while not re.search(r"Handed [1-9]\d* queued message\(s\) to the categorizer again", worker.output.read_text()):
        assert time.monotonic() < deadline, "the worker did not hand the queued messages on after restart"
        time.sleep(0.1)
