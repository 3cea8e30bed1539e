"""A transport worker's health, as a container's healthcheck (`manage.py transport_health --server NAME`) and the
console see it: healthy while it runs, listens and reaches its broker; stale, with since when, once it was
killed with -9 (nothing left behind says Listening)."""
import os
import socket
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.test import Client as ConsoleClient

from tests.shell_helpers import shell_lines
from tests.transport_helpers import (
    ROOT, TransportWorker, committed_db, database_url, install_receive_server, loopback_host, new_receive_connector,
    remove_server_data, unique_server_name, wait_for,
)

pytestmark = pytest.mark.smtp
__all__ = ["committed_db"]

HOST = loopback_host(47)
BINDING, TAKEN = f"{HOST}:47025", f"{HOST}:47026"
INTERVAL = 1   # TRANSPORT_HEARTBEAT_INTERVAL of this module's workers: stale after 3 s without one


@pytest.fixture(scope="module")
def server(committed_db):
    name = unique_server_name("HC")
    server = install_receive_server(name, "hc.contoso.com")
    new_receive_connector(server, "Internet", BINDING, PermissionGroups="AnonymousUsers")
    yield server
    remove_server_data(name)


def start_worker(server, wait_for_bindings):
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("TRANSPORT_HEARTBEAT_INTERVAL", str(INTERVAL))
        return TransportWorker(server.name).start(wait_for=wait_for_bindings)


def health(server_name, broker=None):
    """(exit status, output) of the healthcheck, run as Docker runs it: another process, same environment."""
    from django.conf import settings

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(),
           "EXCHANGE_DATA_DIR": str(settings.EXCHANGE_DATA_DIR),
           "CELERY_BROKER_URL": broker or settings.CELERY_BROKER_URL}
    result = subprocess.run([sys.executable, "manage.py", "transport_health", "--server", server_name],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return result.returncode, (result.stdout + result.stderr).strip()


def socket_bound(host, port):
    taken = socket.socket()
    taken.bind((host, port))
    taken.listen()
    return taken


@pytest.fixture(scope="module")
def console(committed_db):
    client = ConsoleClient()
    client.force_login(get_user_model().objects.create_superuser("olga", password="Corr3ct-Horse!"))
    return client


def test_it_is_healthy_while_the_worker_runs_and_stale_once_it_was_killed(server, console):
    worker = start_worker(server, [BINDING])
    try:
        worker.wait_for_status(lambda bindings: bindings[BINDING] == "Listening",
                               status_condition=lambda status: status.get("broker") == "Connected")
        code, output = health(server.name)
        assert (code, output.splitlines()[0].startswith(f"{server.name}: Healthy: 1 binding(s) listening, "
                                                        "broker connected")) == (0, True), output
        assert "<td>Healthy</td>" in console.get(f"/console/servers/hub-transport/{server.name}/").content.decode()
        worker.kill()
        heartbeat = worker.status()["heartbeat"]
        assert wait_for(lambda: health(server.name)[0] != 0, timeout=30)
    finally:
        worker.stop()
    code, output = health(server.name)
    since = f"{heartbeat[:10]} {heartbeat[11:19]} UTC"
    stale = f"Not running: no heartbeat from the transport worker since {since}"
    assert (code, output) == (1, f"{server.name}: {stale}")
    page = console.get(f"/console/servers/hub-transport/{server.name}/").content.decode()
    assert f"{BINDING} {stale}" in page and f"<td>{stale}</td>" in page and "Listening" not in page
    assert shell_lines(f"Get-TransportServer {server.name} | fl ReceiveListenerStatus") == [
        f"ReceiveListenerStatus : {BINDING} {stale}"]


def test_it_names_a_binding_that_does_not_listen(server):
    new_receive_connector(server, "Taken", TAKEN, PermissionGroups="AnonymousUsers")
    with socket_bound(HOST, 47026):
        worker = start_worker(server, [BINDING, TAKEN])
        try:
            code, output = health(server.name)
        finally:
            worker.stop()
    assert (code, output) == (1, f"{server.name}: {TAKEN} The address {TAKEN} is already in use.")


def test_it_is_not_healthy_once_the_worker_stopped_or_for_an_unknown_server(server):
    worker = start_worker(server, [BINDING])
    worker.stop()
    assert health(server.name) == (1, f"{server.name}: The transport worker is not running")
    code, output = health("NOSUCHSERVER")
    assert code != 0 and output == "CommandError: The transport server 'NOSUCHSERVER' couldn't be found."
