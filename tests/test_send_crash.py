"""Fewer duplicates after a crash, end to end through a real transport worker: it delivers several messages over
one connection to an aiosmtpd smart host, which has the worker killed with -9 as soon as the next MAIL FROM shows
that the worker read its 250 for message K. After the restart only the messages not yet acknowledged are sent."""
import pytest
from django.conf import settings

from tests.send_peers import Sink, SinkHandler
from tests.transport_helpers import (
    TransportWorker, committed_db, install_relay_server, loopback_host, remove_server_data, server_store, wait_for,
)
from transport.queue.models import QueuedMessage

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(82)
SMART_HOST = HOST.rsplit(".", 1)[0] + ".2"
PORT, SMART_HOST_PORT = 43025, 43026
MESSAGES, ACKNOWLEDGED_BEFORE_THE_CRASH = 6, 3
SUBJECTS = [f"Crash {number}" for number in range(1, MESSAGES + 1)]


class KillingHandler(SinkHandler):
    """Kills `worker` (kill -9) when a MAIL FROM arrives after `kill_after` messages got their 250."""
    worker = kill_after = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.kill_after is not None and len(self.received) == self.kill_after:
            self.kill_after = None
            self.worker.kill()
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


@pytest.fixture(scope="module")
def server(committed_db):
    server = install_relay_server("CR", "cr.contoso.com", f"{HOST}:{PORT}", SMART_HOST, SMART_HOST_PORT)
    yield server
    remove_server_data(server.name)


def store_messages(server_name):
    """Queued before the worker starts, so that one delivery attempt claims them all for one connection."""
    store = server_store(server_name)
    for subject in SUBJECTS:
        content = f"From: sender@example.com\r\nTo: user@relay.example\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
        store.accept(content, mail_from="sender@example.com", rcpt_tos=["user@relay.example"],
                     received_connector="", client_ip="127.0.0.1", client_hostname="client.example.com",
                     auth_user="", size=len(content), header_message_id=f"<{subject.replace(' ', '-')}@example.com>",
                     subject=subject)


def received_subjects(sink):
    return [line.removeprefix("Subject: ") for m in sink.received for line in m.content.decode().splitlines()
            if line.startswith("Subject: ")]


def sent_events(server_name):
    return [line for path in (settings.EXCHANGE_DATA_DIR / server_name).rglob("MSGTRK*.log")
            for line in path.read_text().splitlines() if ",SEND," in line]


def test_it_sends_again_only_the_messages_not_yet_acknowledged_after_a_kill(server):
    store_messages(server.name)
    worker = TransportWorker(server.name)
    handler = KillingHandler()
    handler.worker, handler.kill_after = worker, ACKNOWLEDGED_BEFORE_THE_CRASH
    sink = Sink(SMART_HOST, SMART_HOST_PORT)
    sink.controller.handler = sink.handler = handler
    with sink:
        worker.start(wait_for=[f"{HOST}:{PORT}"])
        try:
            assert wait_for(lambda: worker.process.poll() is not None), "the smart host never killed the worker"
            assert received_subjects(sink) == SUBJECTS[:ACKNOWLEDGED_BEFORE_THE_CRASH]
            worker.start(wait_for=[f"{HOST}:{PORT}"])
            assert wait_for(lambda: len(server_store(server.name).ids()) == 0), "not everything was delivered"
            # Nor do the entries of those sent before the kill stay behind in Get-Queue and Get-Message.
            assert wait_for(lambda: not QueuedMessage.objects.filter(queue__server=server).exists()), \
                list(QueuedMessage.objects.filter(queue__server=server).values_list("subject", "status"))
        finally:
            worker.stop()
    assert received_subjects(sink) == SUBJECTS          # each once: none of the acknowledged ones again
    assert len(sent_events(server.name)) == MESSAGES    # and tracked as SEND once each
