"""Receive connector permissions per principal with a real transport worker and real sockets: an anonymous
connector refuses relay until Add-ADPermission grants ANONYMOUS LOGON ms-Exch-SMTP-Accept-Any-Recipient; then the
same client relays, and a Deny entry takes it away again. The protocol log's "Set Session Permissions" line
shows what each session got."""
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.conf import settings

from exchange_console.connectors.models import ReceiveConnector
from tests.shell_helpers import shell
from tests.transport_helpers import (
    Client, TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, reply, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(97)
PORT = 31197
GRANT = "-User 'NT AUTHORITY\\ANONYMOUS LOGON' -ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient"
ANONYMOUS = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
ANONYMOUS_RELAY = ("SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                   "AcceptRoutingHeaders")


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("AP")
    server = install_receive_server(name, "ap.contoso.com")
    new_receive_connector(server, "Relay", f"{HOST}:{PORT}", PermissionGroups="AnonymousUsers",
                          ProtocolLoggingLevel="Verbose")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    started = TransportWorker(server.name).start(wait_for=[f"{HOST}:{PORT}"])
    yield started
    started.stop()


def relay_reply():
    """What RCPT TO gets for a recipient outside the accepted domains, from an anonymous client."""
    with Client(HOST, PORT) as client:
        client.ehlo("printer.contoso.com")
        assert reply(client, "MAIL FROM:<scanner@contoso.com>")[0] == 250
        return reply(client, "RCPT TO:<partner@fabrikam.example>")


def change_and_wait(worker, server, line):
    shell(line)
    worker.wait_for_configuration(ReceiveConnector.objects.get(server=server, name="Relay").modified)


def session_permissions(server):
    """The "Set Session Permissions" lines of the connector's sessions, in order."""
    log = (Path(settings.EXCHANGE_DATA_DIR) / server.name / server.receive_protocol_log_path
           / f"RECV{datetime.now(timezone.utc):%Y%m%d}-1.log")
    lines = log.read_text().splitlines() if log.exists() else []
    return [line.rsplit(",", 2)[1] for line in lines if line.endswith(",Set Session Permissions")]


def test_add_adpermission_lets_the_anonymous_client_relay_and_a_deny_entry_takes_it_away(worker, server):
    assert relay_reply() == (550, "5.7.1 Unable to relay")

    change_and_wait(worker, server, f"Get-ReceiveConnector 'Relay' | Add-ADPermission {GRANT}")
    assert relay_reply() == (250, "2.1.5 Recipient OK")

    change_and_wait(worker, server, f"Add-ADPermission '{server.name}\\Relay' {GRANT} -Deny")
    assert relay_reply() == (550, "5.7.1 Unable to relay")

    assert wait_for(lambda: session_permissions(server) == [ANONYMOUS, ANONYMOUS_RELAY, ANONYMOUS], timeout=10), \
        session_permissions(server)
