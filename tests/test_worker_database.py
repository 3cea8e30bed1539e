"""How a transport worker uses the database while it relays: its pool threads keep their connections from one task
to the next."""
import smtplib

import pytest
from django.db import connection

from tests.send_peers import Sink
from tests.transport_helpers import (
    TransportWorker, committed_db, install_relay_server, loopback_host, remove_server_data, wait_for,
)

__all__ = ["committed_db"]

postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'")

HOST = loopback_host(96)
SMART_HOST = HOST.rsplit(".", 1)[0] + ".2"
PORT, SMART_HOST_PORT = 43125, 43126
MESSAGES = 10


def database_sessions():
    """Connections the test database has taken since its statistics began (PostgreSQL counts them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def server(committed_db):
    server = install_relay_server("DB", "db.contoso.com", f"{HOST}:{PORT}", SMART_HOST, SMART_HOST_PORT)
    yield server
    remove_server_data(server.name)


@postgresql_only
def test_the_workers_pool_threads_keep_their_connections_from_one_task_to_the_next(server):
    """Each message relayed alone is two tasks (categorize, deliver): with a connection per task, twenty sessions."""
    worker = TransportWorker(server.name)
    with Sink(SMART_HOST, SMART_HOST_PORT) as sink:
        worker.start(wait_for=[f"{HOST}:{PORT}"])
        try:
            before = database_sessions()
            for number in range(MESSAGES):
                with smtplib.SMTP(HOST, PORT) as client:
                    client.sendmail("sender@example.com", ["user@relay.example"],
                                    f"Subject: Message {number}\r\n\r\nbody\r\n")
                assert wait_for(lambda: len(sink.received) == number + 1), f"message {number} not relayed"
            opened = database_sessions() - before
        finally:
            worker.stop()
    assert opened <= 6, f"the worker opened {opened} connections for {2 * MESSAGES} tasks"   # its threads' first ones
