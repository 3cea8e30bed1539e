"""What a newcomer meets first: strict settings, current migrations, the demo seed, the worker command."""
import io
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.organization.models import AcceptedDomain, Mailbox, Organization, Site, TransportServer

ROOT = Path(__file__).resolve().parent.parent


def run_settings(tmp_path, expression="s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DEBUG", **env):
    """Import the settings in a fresh interpreter with the given environment; return the process."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "SECURE_COOKIES")}
    environment.update({"EXCHANGE_DATA_DIR": str(tmp_path), "SECRET_KEY": "k", **env})
    return subprocess.run([sys.executable, "-c", f"import exchange_console.settings as s; print({expression})"],
                          cwd=ROOT, env=environment, capture_output=True, text=True)


def run_settings_value(tmp_path, expression, **env):
    result = run_settings(tmp_path, f"({expression})", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_it_defaults_to_sqlite_and_a_serverless_broker(tmp_path):
    result = run_settings(tmp_path)
    assert result.stdout.split() == ["exchange_console.db.sqlite3", "filesystem://localhost/", "False"]


def test_it_takes_postgresql_and_redis_from_the_environment(tmp_path):
    result = run_settings(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
                          CELERY_BROKER_URL="redis://127.0.0.1:6379/0", DEBUG="true")
    assert result.stdout.split() == ["django.db.backends.postgresql", "redis://127.0.0.1:6379/0", "True"]


@pytest.mark.parametrize("env, message", [
    ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
    ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL='mysql://root@localhost/x' has an unsupported scheme"),
    ({"CELERY_BROKER_URL": "amqp://guest@localhost//"}, "CELERY_BROKER_URL='amqp://guest@localhost//' has an "
                                                         "unsupported scheme"),
    ({"SECRET_KEY": ""}, "SECRET_KEY must be set when DEBUG is false"),
    ({"DATABASE_CONN_MAX_AGE": "soon"}, "DATABASE_CONN_MAX_AGE='soon' is not a whole number"),
    ({"EXCHANGE_ENCRYPTION_KEY": "short"}, "EXCHANGE_ENCRYPTION_KEY is not a Fernet key"),
    ({"EXCHANGE_ENCRYPTION_KEY_FILE": "/nonexistent/key"}, "EXCHANGE_ENCRYPTION_KEY_FILE='/nonexistent/key' can't be read"),
    ({"TRANSPORT_QUEUE_SYNC": "fdatasync"}, "TRANSPORT_QUEUE_SYNC='fdatasync': use fsync, or syncfs on Linux."),
])
def test_it_refuses_a_bad_setting_at_start_up(tmp_path, env, message):
    result = run_settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_encryption_key_can_come_from_a_file(tmp_path):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    (tmp_path / "key").write_text(key + "\n")
    assert run_settings_value(tmp_path, "s.EXCHANGE_ENCRYPTION_KEY",
                              EXCHANGE_ENCRYPTION_KEY_FILE=str(tmp_path / "key")) == key
    both = run_settings(tmp_path, EXCHANGE_ENCRYPTION_KEY=key, EXCHANGE_ENCRYPTION_KEY_FILE=str(tmp_path / "key"))
    assert "Set EXCHANGE_ENCRYPTION_KEY or EXCHANGE_ENCRYPTION_KEY_FILE, not both." in both.stderr


def test_every_setting_read_is_listed_in_env_example_and_readme():
    read = set(re.findall(r'env_\w+\(\s*"([A-Z_]+)"', (ROOT / "exchange_console/settings.py").read_text()))
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    assert read, "no settings found"
    assert {name for name in read if f"{name}=" not in example} == set()
    assert {name for name in read if f"`{name}`" not in readme} == set()


def repository_documents():
    """What a reader of a plain clone follows: the README, docs/, the Makefile and the benchmarks."""
    return [ROOT / "README.md", ROOT / "Makefile", *sorted(ROOT.glob("docs/**/*.md")),
            *sorted(path for path in (ROOT / "bench").iterdir() if path.is_file())]


def test_it_names_no_path_outside_the_repository():
    outside = {str(path.relative_to(ROOT)): found.group() for path in repository_documents()
               if (found := re.search(r"(?<!\.)\.\./\S*|\bparent\b.*\"shared\"", path.read_text()))}
    assert outside == {}


def heading_anchors(markdown):
    """The anchors a Markdown renderer gives the headings: lower case, punctuation dropped, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)}


def test_it_links_only_to_files_and_headings_the_repository_has():
    broken = []
    for document in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]:
        for path, anchor in re.findall(r"\]\(([^)#\s]*)#?([^)\s]*)\)", document.read_text()):
            if re.match(r"[a-z]+:", path):
                continue
            target = document.parent / path if path else document
            if not target.exists() or anchor and anchor not in heading_anchors(target.read_text()):
                broken.append(f"{document.relative_to(ROOT)}: {path}#{anchor}")
    assert broken == []
    readme = (ROOT / "README.md").read_text()
    assert "(docs/exchange-behaviour.md)" in readme and "(docs/operating.md)" in readme


def unused_ports(count):
    probes = [socket.socket() for _ in range(count)]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in probes]
    for probe in probes:
        probe.close()
    return ports


@pytest.mark.skipif(not shutil.which("postfix") or os.geteuid() != 0,
                    reason="the Postfix anchor needs Debian's postfix package and root")
def test_it_relays_the_benchmarks_load_through_their_own_postfix_anchor(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    from postfix_anchor import PostfixAnchor
    from smtp_load import Sink, send

    relay_port, sink_port = unused_ports(2)
    with Sink(sink_port) as sink, PostfixAnchor(relay_port, smart_host_port=sink_port):
        send(relay_port, messages=5, sessions=2)
        assert sink.wait_for(5, timeout=60) == 5


def test_migrations_are_current(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_seed_demo_builds_the_demo_organization_and_is_idempotent(db, capsys, settings, tmp_path):
    settings.EXCHANGE_DATA_DIR = tmp_path
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    assert capsys.readouterr().out == first
    assert Organization.objects.get().name == "First Organization"
    assert Site.objects.get().name == "Default-First-Site-Name"
    assert TransportServer.objects.get().name == "HUB01"
    assert AcceptedDomain.objects.get(default=True).domain_type == "Authoritative"
    assert sorted(ReceiveConnector.objects.values_list("name", "bindings")) == [
        ("Client HUB01", ["0.0.0.0:2587"]), ("Default HUB01", ["0.0.0.0:2025"])]
    assert Mailbox.objects.get().primary_smtp_address == "administrator@contoso.com"
    password = (tmp_path / "demo-admin-password.txt").read_text()
    assert f"Console administrator: administrator / {password}" in first


def test_the_demo_administrator_can_sign_in(db, client, settings, tmp_path):
    settings.EXCHANGE_DATA_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    password = (tmp_path / "demo-admin-password.txt").read_text()
    assert client.get("/").url.startswith("/login/")
    response = client.post("/login/", {"username": "administrator", "password": password})
    assert response.status_code == 302
    landing = client.get("/", follow=True)
    assert landing.status_code == 200 and not landing.request["PATH_INFO"].startswith("/login/")


def test_the_transport_command_refuses_an_unknown_server(db):
    with pytest.raises(CommandError, match="The transport server 'NOPE' couldn't be found."):
        call_command("transport", "--server", "NOPE")
