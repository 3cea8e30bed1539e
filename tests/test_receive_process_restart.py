"""The receive process comes back: its worker starts it again after every death, after a delay that doubles
while it keeps dying, and the listener status in the shell and the console never says Listening while
nothing listens."""
import os
import signal
import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as ConsoleClient

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.services import set_object
from tests.shell_helpers import shell_lines
from tests.transport_helpers import (
    TransportWorker, committed_db, install_receive_server, loopback_host, new_receive_connector, receive_process,
    remove_server_data, unique_server_name,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(37)
BINDING = f"{HOST}:37025"
MAX_DELAY = 4   # RECEIVE_PROCESS_MAX_RESTART_DELAY of this module's worker: it waits 1, 2, 4, 4, ... s
STARTUP = 30    # on top of the delay: a spawned interpreter setting Django up on a busy machine


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("RP")
    server = install_receive_server(name, "rp.contoso.com")
    new_receive_connector(server, "Internet", BINDING, PermissionGroups="AnonymousUsers")
    yield server
    remove_server_data(name)


@pytest.fixture(scope="module")
def worker(server):
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("RECEIVE_PROCESS_MAX_RESTART_DELAY", str(MAX_DELAY))
        worker = TransportWorker(server.name).start(wait_for=[BINDING])
    worker.wait_for_status(lambda bindings: bindings[BINDING] == "Listening")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def console(committed_db):
    client = ConsoleClient()
    client.force_login(get_user_model().objects.create_superuser("olga", password="Corr3ct-Horse!"))
    return client


def banner(host=HOST, port=37025):
    """The greeting line a client gets on the binding, or None when the connection is refused."""
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            return raw.makefile("rb").readline().decode()
    except ConnectionRefusedError:
        return None


def kill_receive_process(worker):
    """SIGKILL the receive process; returns what the worker then recorded for the binding."""
    before = worker.status()["updated"]
    os.kill(receive_process(worker), signal.SIGKILL)
    status = worker.wait_for_status(lambda bindings: bindings[BINDING] != "Listening", previous=before)
    return status["bindings"][BINDING]


def wait_until_listening(worker, delay):
    """Poll until the binding greets again; meanwhile, every status read before a refused connection must not
    have said Listening. Returns the banner."""
    deadline = time.monotonic() + delay + STARTUP
    while time.monotonic() < deadline:
        state = worker.status()["bindings"][BINDING]
        greeting = banner()
        if greeting:
            return greeting
        assert state != "Listening", "the status said Listening while the connection was refused"
        time.sleep(0.05)
    raise AssertionError(f"the receive process did not listen again within {delay} s + {STARTUP} s")


def not_listening(delay):
    return f"Not listening: the receive process exited (code -9); starting it again in {delay} s"


def test_it_listens_again_after_eight_kills_in_a_row_and_never_shows_listening_meanwhile(worker, server, console):
    page = f"/console/servers/hub-transport/{server.name}/"
    for delay in (1, 2, 4, 4, 4, 4, 4, 4):
        killed = time.monotonic()
        assert kill_receive_process(worker) == not_listening(delay)
        assert banner() is None
        assert shell_lines(f"Get-ReceiveConnector '{server.name}\\Internet' | fl ListenerStatus") == [
            f"ListenerStatus : {BINDING} {not_listening(delay)}"]
        assert shell_lines(f"Get-TransportServer {server.name} | fl ReceiveListenerStatus") == [
            f"ReceiveListenerStatus : {BINDING} {not_listening(delay)}"]
        assert f"{BINDING} {not_listening(delay)}" in console.get(page).content.decode()
        assert wait_until_listening(worker, delay).startswith("220 rp.contoso.com")
        assert time.monotonic() - killed >= delay, "started again before its delay was over"
        worker.wait_for_status(lambda bindings: bindings[BINDING] == "Listening")
        assert shell_lines(f"Get-ReceiveConnector '{server.name}\\Internet' | fl ListenerStatus") == [
            f"ListenerStatus : {BINDING} Listening"]
    assert worker.output.read_text().count("starting it again in 4 s") >= 6


def test_it_gives_the_process_started_again_the_configuration_changed_while_it_was_down(worker, server):
    kill_receive_process(worker)
    set_object(RECEIVE_CONNECTOR, ReceiveConnector.objects.get(server=server, name="Internet"),
               {"Banner": "220 Back with a new banner"})
    assert wait_until_listening(worker, MAX_DELAY) == "220 Back with a new banner\r\n"


def test_it_starts_the_delays_over_once_the_process_stayed_up_as_long_as_the_longest(worker):
    worker.wait_for_status(lambda bindings: bindings[BINDING] == "Listening")
    time.sleep(MAX_DELAY + 1)
    assert kill_receive_process(worker) == not_listening(1)
    wait_until_listening(worker, 1)
    worker.wait_for_status(lambda bindings: bindings[BINDING] == "Listening")
    assert kill_receive_process(worker) == not_listening(2)
    wait_until_listening(worker, 2)


def test_it_reports_no_listener_once_the_worker_stopped(committed_db):
    other = install_receive_server(unique_server_name("RQ"), "rq.contoso.com")
    new_receive_connector(other, "Own", f"{HOST}:37026", PermissionGroups="AnonymousUsers")
    stopping = TransportWorker(other.name).start(wait_for=[f"{HOST}:37026"])
    try:
        stopping.stop()
        assert banner(port=37026) is None
        assert shell_lines(f"Get-TransportServer {other.name} | fl ReceiveListenerStatus") == [
            "ReceiveListenerStatus : Not running"]
        assert shell_lines(f"Get-ReceiveConnector '{other.name}\\Own' | fl ListenerStatus") == [
            f"ListenerStatus : {HOST}:37026 Not running"]
    finally:
        stopping.stop()
        remove_server_data(other.name)
