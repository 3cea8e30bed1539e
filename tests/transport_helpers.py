"""Helpers for end-to-end tests against a real transport worker (`manage.py transport --server NAME` in a
subprocess) that shares the test database, the broker and EXCHANGE_DATA_DIR with the test process.

Each test module gets its own servers (unique names, so its Celery queue and data folders are its own)
and commits its configuration outside test transactions, because the worker is another process; the
module fixture flushes the database at the end as transactional tests do."""
import itertools
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer

ROOT = Path(__file__).resolve().parent.parent
SITE = "Default-First-Site-Name"
_names = itertools.count()
# Each test run listens on loopback addresses of its own (127.R.M.1), so that runs of these tests at the
# same time on one machine never meet on a port.
RUN_OCTET = 100 + os.getpid() % 150


def loopback_host(module_number):
    return f"127.{RUN_OCTET}.{module_number}.1"


def unique_server_name(prefix):
    """Short (<= 15 chars) and unique per test run, so concurrent runs never share a queue."""
    return f"{prefix}{os.getpid() % 100000:05d}{next(_names)}"[:15]


def database_url():
    """The URL of the test database the worker subprocess must use."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class TransportWorker:
    """One `manage.py transport --server NAME` process. Its EXCHANGE_DATA_DIR is the test process's, or with
    `data_dir` a folder of its own, as on a machine of its own: it shares only the broker with the test process
    (the embedded broker's folder is linked into it, as a shared mount would be)."""

    def __init__(self, server_name, concurrency=None, data_dir=None):
        self.server_name = server_name
        self.concurrency = concurrency   # Celery pool threads; None: the command's default
        self.process = None
        self.data_dir = Path(data_dir or settings.EXCHANGE_DATA_DIR)
        self.output = self.data_dir / server_name / "worker.log"

    def start(self, wait_for=(), timeout=60):
        """Start the worker and wait until it recorded its bindings (a status newer than one a killed worker left)."""
        previous = self.status().get("updated")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self._share_broker()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(),
               "EXCHANGE_DATA_DIR": str(self.data_dir), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
               "CELERY_RESULT_BACKEND": settings.RESULT_BACKEND_URL}
        with open(self.output, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "transport", "--server", self.server_name, "--loglevel", "INFO",
                 *(["--concurrency", str(self.concurrency)] if self.concurrency else [])],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for_status(lambda status: all(status.get(binding) for binding in wait_for) and status,
                             timeout=timeout, previous=previous)
        return self

    def _share_broker(self):
        """The embedded broker's folder, where a worker with a data folder of its own looks for it."""
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        if "data_folder_in" not in options or self.data_dir == Path(settings.EXCHANGE_DATA_DIR):
            return
        broker = Path(options["data_folder_in"])
        link = self.data_dir / broker.relative_to(settings.EXCHANGE_DATA_DIR)
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(broker, target_is_directory=True)

    def status(self):
        return TransportServer.objects.get(name=self.server_name).receive_listener_status

    def wait_for_status(self, condition, timeout=10, previous=None, status_condition=lambda status: True):
        """Wait until the worker recorded a binding status (newer than `previous`) that satisfies condition."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"transport worker exited:\n{self.output.read_text()[-3000:]}")
            status = self.status()
            if (status and status.get("updated") != previous and condition(status.get("bindings", {}))
                    and status_condition(status)):
                return status
            time.sleep(0.05)
        raise AssertionError(f"no matching listener status within {timeout}s: {self.status()}")

    def wait_for_configuration(self, modified, timeout=10):
        """Wait until the worker runs a configuration that includes a change saved at `modified`."""
        self.wait_for_status(lambda bindings: True, timeout=timeout, previous=None,
                             status_condition=lambda status: datetime.fromisoformat(
                                 status.get("configuration", "1970-01-01T00:00:00+00:00")) >= modified)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self):
        """kill -9: no chance to clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def receive_process(worker):
    """The pid of the worker's receive process (its child running the listeners; a process started again is
    the child of the worker's thread that watches it)."""
    for thread in Path(f"/proc/{worker.process.pid}/task").iterdir():
        for child in (thread / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise AssertionError("the worker has no receive process")


def server_store(server_name):
    """The queue store of a server, as its worker has it (tests share the workers' disk)."""
    from transport.queue.store import MessageStore
    from transport.snapshot import queue_directory

    return MessageStore(queue_directory(TransportServer.objects.get(name__iexact=server_name)))


def wait_for(condition, timeout=30):
    """Poll `condition` until it holds (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def install_receive_server(name, fqdn, domain="contoso.com"):
    """An organization with `domain` accepted and a Hub server without the install-default connectors
    (they would bind 0.0.0.0); the tests create their own on loopback addresses."""
    setup.install_organization("First Organization", SITE)
    setup.ensure_accepted_domain(domain)
    from exchange_console.organization.schemas import TRANSPORT_SERVER
    from exchange_console.services import new_object

    return new_object(TRANSPORT_SERVER, {"Name": name, "Fqdn": fqdn, "Site": SITE})


def install_relay_server(prefix, fqdn, binding, smart_host, smart_host_port):
    """A server (named from `prefix`) that relays relay.example, an ExternalRelay domain, from anonymous clients on
    `binding` ('IP:port') through the smart host [smart_host]:smart_host_port."""
    from exchange_console.connectors.schemas import SEND_CONNECTOR
    from exchange_console.organization.schemas import ACCEPTED_DOMAIN
    from exchange_console.services import new_object

    name = unique_server_name(prefix)
    server = install_receive_server(name, fqdn)
    new_object(ACCEPTED_DOMAIN, {"Name": "relay.example", "DomainName": "relay.example", "DomainType": "ExternalRelay"})
    new_receive_connector(server, "Internet", binding, PermissionGroups="AnonymousUsers")
    new_object(SEND_CONNECTOR, {"Name": "Relay", "AddressSpaces": "relay.example", "SmartHosts": f"[{smart_host}]",
                                "DNSRoutingEnabled": False, "Port": smart_host_port, "SourceTransportServers": [name]})
    return server


@pytest.fixture(scope="module")
def committed_db(django_db_blocker):
    """Database access whose writes commit (a worker in another process must see them), on a test database:
    pytest-django's if it set one up already, else one created here; flushed afterwards."""
    with django_db_blocker.unblock():
        original_name = None
        if not _on_test_database():
            original_name = connection.settings_dict["NAME"]
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        yield
        call_command("flush", interactive=False, verbosity=0)
        if original_name is not None:
            connection.creation.destroy_test_db(original_name, verbosity=0)


def _on_test_database():
    name = str(connection.settings_dict["NAME"])
    test_name = connection.settings_dict.get("TEST", {}).get("NAME")
    return name == str(test_name) if test_name else name.startswith("test_")


def remove_server_data(server_name):
    shutil.rmtree(Path(settings.EXCHANGE_DATA_DIR) / server_name, ignore_errors=True)


class Client(smtplib.SMTP):
    """smtplib bound to a chosen loopback source address."""

    welcome = b""

    def __init__(self, host, port, source="127.0.0.1", timeout=10):
        super().__init__(host, port, source_address=(source, 0), timeout=timeout)

    def connect(self, *args, **kwargs):
        code, self.welcome = super().connect(*args, **kwargs)
        return code, self.welcome


def swaks(*args, timeout=60):
    """Run swaks; returns its transcript (stdout + stderr) and exit code."""
    result = subprocess.run(["swaks", "--timeout", "30", *args], capture_output=True, text=True, timeout=timeout)
    return result.stdout + result.stderr, result.returncode


def reply(client, command):
    """(code, text) of one raw command."""
    client.putcmd(command)
    code, message = client.getreply()
    return code, message.decode()


def new_receive_connector(server, name, bindings, remote_ranges="0.0.0.0-255.255.255.255", **values):
    from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
    from exchange_console.services import new_object

    return new_object(RECEIVE_CONNECTOR, {"Name": name, "Server": server, "Usage": "Custom", "Bindings": bindings,
                                          "RemoteIPRanges": remote_ranges, "TarpitInterval": "00:00:00", **values})


def reconfigure(worker, schema, obj, values):
    """Change through the one write path and wait until the worker applied it; returns the seconds taken."""
    from exchange_console.services import set_object

    started = time.monotonic()
    changed = set_object(schema, obj, values)
    worker.wait_for_configuration(changed.modified)
    return time.monotonic() - started
