"""Receive limits end to end, with Exchange's reply codes: message, header and recipient limits of the
connector and the organization, hop count, concurrent connections, timeouts, message rate, tarpitting,
protocol errors and logon failures."""
import smtplib
import socket
import time

import pytest

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.organization import setup
from exchange_console.organization.models import TransportConfig
from exchange_console.organization.schemas import TRANSPORT_CONFIG
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector, reconfigure,
    remove_server_data, reply, unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(23)
LIMITS, CONNECTIONS, PER_SOURCE, TIMEOUTS, RATE, TARPIT, LOGON, USER_RATE = range(23025, 23033)


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RL")
    server = install_receive_server(name, "rl.contoso.com")
    setup.ensure_mailbox("alice", "alice@contoso.com", "Alice-Passw0rd")
    add, anonymous = new_receive_connector, {"PermissionGroups": "AnonymousUsers"}
    add(server, "Limits", f"{HOST}:{LIMITS}", MaxMessageSize="64KB", MaxHeaderSize="2KB",
        MaxRecipientsPerMessage=3, MaxHopCount=3, MaxProtocolErrors=2, **anonymous)
    add(server, "Connections", f"{HOST}:{CONNECTIONS}", MaxInboundConnection=4,
        MaxInboundConnectionPerSource="unlimited", MaxInboundConnectionPercentagePerSource=50, **anonymous)
    add(server, "PerSource", f"{HOST}:{PER_SOURCE}", MaxInboundConnectionPerSource=1, **anonymous)
    add(server, "Timeouts", f"{HOST}:{TIMEOUTS}", ConnectionTimeout="00:00:03", ConnectionInactivityTimeout="00:00:01",
        **anonymous)
    add(server, "Rate", f"{HOST}:{RATE}", MessageRateLimit=2, MessageRateSource="IPAddress", **anonymous)
    add(server, "Tarpit", f"{HOST}:{TARPIT}", TarpitInterval="00:00:01",
        PermissionGroups=["AnonymousUsers", "ExchangeUsers"], AuthMechanism=["Tls", "BasicAuth"])
    add(server, "UserRate", f"{HOST}:{USER_RATE}", MessageRateLimit=1, MessageRateSource="User",
        PermissionGroups=["AnonymousUsers", "ExchangeUsers"], AuthMechanism=["Tls", "BasicAuth"])
    add(server, "Logon", f"{HOST}:{LOGON}", MaxLogonFailures=2, PermissionGroups=["ExchangeUsers"],
        AuthMechanism=["Tls", "BasicAuth"])
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    worker = TransportWorker(server.name).start(wait_for=[f"{HOST}:{port}" for port in (LIMITS, LOGON)])
    yield worker
    worker.stop()


def session(port, source="127.0.0.1"):
    client = Client(HOST, port, source)
    client.ehlo("client.example.com")
    return client


def data(client, content):
    client.putcmd("DATA")
    assert client.getreply()[0] == 354
    client.send(content.replace("\n", "\r\n").encode() + b"\r\n.\r\n")
    code, text = client.getreply()
    return code, text.decode()


def transaction(client, recipients=("b@contoso.com",)):
    client.mail("a@example.com")
    for recipient in recipients:
        assert client.rcpt(recipient)[0] == 250


def test_it_refuses_a_message_over_max_message_size_after_the_data(worker):
    with session(LIMITS) as client:
        transaction(client)
        assert data(client, "Subject: big\n\n" + ("x" * 998 + "\n") * 70) == (
            552, "5.3.4 Message size exceeds fixed maximum message size")
        transaction(client)
        assert data(client, "Subject: small\n\nfits")[0] == 250


def test_it_refuses_headers_over_max_header_size(worker):
    with session(LIMITS) as client:
        transaction(client)
        assert data(client, "".join(f"X-Filler-{n}: {'y' * 70}\n" for n in range(40)) + "\nbody") == (
            552, "5.3.4 Header size exceeds fixed maximum size")


def test_it_refuses_recipients_beyond_max_recipients_per_message(worker):
    with session(LIMITS) as client:
        transaction(client, ["a@contoso.com", "b@contoso.com", "c@contoso.com"])
        assert reply(client, "RCPT TO:<d@contoso.com>") == (452, "4.5.3 Too many recipients")
        assert data(client, "Subject: three\n\nok")[0] == 250


def test_it_refuses_a_message_that_passed_too_many_hops(worker):
    with session(LIMITS) as client:
        transaction(client)
        hops = "".join(f"Received: from hop{n}.example.com by hop{n + 1}.example.com; Sat, 1 Jan 2000 00:00:00 +0000\n"
                       for n in range(3))
        assert data(client, hops + "Subject: loop\n\nbody") == (
            554, "5.4.6 Hop count exceeded - possible mail loop detected")


def test_it_refuses_a_message_that_looped_through_the_organizations_servers_too_often(worker, server):
    reconfigure(worker, RECEIVE_CONNECTOR, ReceiveConnector.objects.get(server=server, name="Limits"),
                {"MaxHopCount": 30, "MaxLocalHopCount": 2})
    try:
        with session(LIMITS) as client:
            transaction(client)
            external = "Received: from a.example.net by b.example.net; Sat, 1 Jan 2000 00:00:00 +0000\n" * 5
            assert data(client, external + "Subject: far\n\nbody")[0] == 250
            transaction(client)
            local = "Received: from x.contoso.com (10.0.0.1) by rl.contoso.com (10.0.0.2) with SMTP\n" * 2
            assert data(client, local + "Subject: loop\n\nbody") == (
                554, "5.4.6 Hop count exceeded - possible mail loop detected")
    finally:
        reconfigure(worker, RECEIVE_CONNECTOR, ReceiveConnector.objects.get(server=server, name="Limits"),
                    {"MaxHopCount": 3, "MaxLocalHopCount": 8})


def test_it_applies_the_organizations_receive_size_and_recipient_envelope_limit(worker, server):
    config = TransportConfig.objects.get()
    reconfigure(worker, TRANSPORT_CONFIG, config, {"MaxReceiveSize": "64KB", "MaxRecipientEnvelopeLimit": 2})
    try:
        with session(RATE, "127.0.0.40") as client:
            assert reply(client, "MAIL FROM:<a@example.com> SIZE=70000") == (
                552, "5.3.4 Message size exceeds fixed maximum message size")
            client.mail("a@example.com")
            client.rcpt("a@contoso.com")
            client.rcpt("b@contoso.com")
            assert reply(client, "RCPT TO:<c@contoso.com>") == (
                550, "5.5.3 RESOLVER.ADR.RecipLimit; too many recipients")
    finally:
        reconfigure(worker, TRANSPORT_CONFIG, TransportConfig.objects.get(),
                    {"MaxReceiveSize": "10MB", "MaxRecipientEnvelopeLimit": 5000})


def test_it_closes_the_session_after_max_protocol_errors(worker):
    with session(LIMITS) as client:
        assert reply(client, "BOGUS") == (500, "5.3.3 Unrecognized command")
        assert reply(client, "RCPT TO:<b@contoso.com>") == (503, "5.5.2 Need mail command")
        assert reply(client, "DATA") == (421, "4.7.0 Too many errors on this connection, closing transmission channel")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()


def _refused(port, source):
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        Client(HOST, port, source)
    return refused.value.smtp_code, refused.value.smtp_error.decode()


def test_it_limits_concurrent_connections_per_connector_and_by_percentage_per_source(worker):
    open_sessions = [Client(HOST, CONNECTIONS, "127.0.0.41"), Client(HOST, CONNECTIONS, "127.0.0.41")]
    try:
        assert _refused(CONNECTIONS, "127.0.0.41") == (
            421, "4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission "
                 "channel")
        open_sessions += [Client(HOST, CONNECTIONS, "127.0.0.42"), Client(HOST, CONNECTIONS, "127.0.0.42")]
        assert _refused(CONNECTIONS, "127.0.0.43") == (
            421, "4.3.2 The maximum number of concurrent server connections has exceeded a limit, closing "
                 "transmission channel")
    finally:
        for client in open_sessions:
            client.quit()
    time.sleep(0.2)
    Client(HOST, CONNECTIONS, "127.0.0.43").quit()


def test_it_limits_concurrent_connections_per_source(worker):
    with Client(HOST, PER_SOURCE, "127.0.0.44"):
        assert _refused(PER_SOURCE, "127.0.0.44")[0] == 421
        with Client(HOST, PER_SOURCE, "127.0.0.45") as other:
            assert other.noop()[0] == 250


def test_it_drops_an_idle_client_after_the_connection_inactivity_timeout(worker):
    with socket.create_connection((HOST, TIMEOUTS), timeout=5) as raw:
        lines = raw.makefile("rb")
        assert lines.readline().startswith(b"220 ")
        started = time.monotonic()
        assert lines.readline() == b"451 4.7.0 Timeout waiting for client input\r\n"
        assert 0.9 < time.monotonic() - started < 2.5
        assert lines.readline() == b""


def test_it_ends_a_busy_session_at_the_connection_timeout(worker):
    with socket.create_connection((HOST, TIMEOUTS), timeout=5) as raw:
        lines = raw.makefile("rb")
        lines.readline()
        started = time.monotonic()
        while True:
            raw.sendall(b"NOOP\r\n")
            line = lines.readline()
            if not line.startswith(b"250"):
                break
            time.sleep(0.4)
        assert line == b"421 4.4.1 Connection timed out. Total session time: 00:00:03\r\n"
        assert 2.5 < time.monotonic() - started < 4.5


def test_it_limits_the_message_rate_of_a_source_address(worker):
    with session(RATE, "127.0.0.46") as client:
        for _ in range(2):
            transaction(client)
            assert data(client, "Subject: rate\n\nbody")[0] == 250
        assert reply(client, "MAIL FROM:<a@example.com>") == (
            421, "4.4.2 Message submission rate for this client has exceeded the configured limit")
    with session(RATE, "127.0.0.47") as client:
        assert reply(client, "MAIL FROM:<a@example.com>") == (250, "2.1.0 Sender OK")


def test_it_limits_the_message_rate_of_an_authenticated_user_across_addresses(worker):
    with session(USER_RATE, "127.0.0.48") as client:
        client.login("alice@contoso.com", "Alice-Passw0rd")
        assert reply(client, "MAIL FROM:<alice@contoso.com>") == (250, "2.1.0 Sender OK")
    with session(USER_RATE, "127.0.0.49") as client:
        client.login("alice", "Alice-Passw0rd")
        assert reply(client, "MAIL FROM:<alice@contoso.com>") == (
            421, "4.4.2 Message submission rate for this client has exceeded the configured limit")
    with session(USER_RATE, "127.0.0.49") as client:
        assert reply(client, "MAIL FROM:<a@example.com>") == (250, "2.1.0 Sender OK")


def _timed(client, command):
    started = time.monotonic()
    result = reply(client, command)
    return result, time.monotonic() - started


def test_it_tarpits_refusals_to_anonymous_clients_but_not_to_authenticated_ones(worker):
    with session(TARPIT) as client:
        client.mail("a@example.com")
        (code, _), seconds = _timed(client, "RCPT TO:<x@example.net>")
        assert code == 550 and seconds >= 1
        (code, _), seconds = _timed(client, "RCPT TO:<b@contoso.com>")
        assert code == 250 and seconds < 0.5
    with session(TARPIT) as client:
        client.login("alice@contoso.com", "Alice-Passw0rd")
        (code, _), seconds = _timed(client, "MAIL FROM:<bob@contoso.com>")
        assert code == 550 and seconds < 0.5


def test_it_disconnects_after_max_logon_failures(worker):
    with session(LOGON) as client:
        assert reply(client, "AUTH PLAIN AGFsaWNlAHdyb25n") == (535, "5.7.3 Authentication unsuccessful")
        assert reply(client, "AUTH PLAIN AGFsaWNlAHdyb25n") == (535, "5.7.3 Authentication unsuccessful")
        assert client.getreply() == (421, b"4.7.0 Too many errors on this connection, closing transmission channel")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
