"""A scratch configuration: a database of its own in a temporary folder (its own broker in memory, so no worker
hears of it), migrated, installed as setup installs the live organization, and optionally given a script; its
state comes back as JSON. It runs in a child process (`manage.py config_scratch`), which never opens the live
database: a script under test can't touch the live configuration nor notify a live server."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

from exchange_console.accounts.models import RoleGroupMember
from exchange_console.organization.models import AcceptedDomain, Organization, Site, TransportServer

SCRATCH_COMMAND = "config_scratch"


class ScratchError(Exception):
    """The scratch configuration couldn't be made, or the script stopped at an error (the shell's message)."""


def installation(server=None):
    """What setup installed here, as install_organization and install_server were told it: the organization, its
    first site and first accepted domain, and the Hubs (or one of them), each installed in that first site."""
    organization, site = Organization.objects.first(), Site.objects.order_by("pk").first()
    domain = AcceptedDomain.objects.order_by("pk").first()
    hubs = TransportServer.objects.local().order_by("pk")
    hubs = hubs.filter(pk=server.pk) if server else hubs
    return {"organization": organization.name, "site": site.name, "accepted_domain": domain.domain_name,
            "servers": [{"name": hub.name, "fqdn": hub.fqdn} for hub in hubs],
            "administrators": [] if server else _members()}


def _members():
    """The console accounts the script adds to role groups: an administrator makes them on the Administrators page
    (accounts have passwords, which no script carries); the scratch configuration makes them itself."""
    return sorted(set(RoleGroupMember.objects.values_list("user__username", flat=True)), key=str.lower)


def install_commands(spec):
    yield (f"manage.py install_organization --name \"{spec['organization']}\" --site \"{spec['site']}\" "
           f"--accepted-domain {spec['accepted_domain']}")
    for server in spec["servers"]:
        yield f"manage.py install_server {server['name']} --role Hub --fqdn {server['fqdn']} --site \"{spec['site']}\""


def scratch_state(spec, server_name=None, script=None, origin="script"):
    """The state of a scratch configuration installed per spec, after the script (text) if one is given; its
    errors name `origin` (the administrator's file) and the line."""
    with tempfile.TemporaryDirectory(prefix="exchange-scratch-") as folder:
        Path(folder, "spec.json").write_text(json.dumps(spec))
        arguments = [sys.executable, str(settings.BASE_DIR / "manage.py"), SCRATCH_COMMAND,
                     str(Path(folder, "spec.json"))]
        if script is not None:
            Path(folder, "config.ps1").write_text(script, encoding="utf-8")
            arguments += ["--script", str(Path(folder, "config.ps1")), "--origin", origin]
        if server_name:
            arguments += ["--server", server_name]
        done = subprocess.run(arguments, cwd=settings.BASE_DIR, env=_scratch_environment(folder),
                              capture_output=True, text=True)
        if done.returncode:
            raise ScratchError(_reason(done.stderr or done.stdout))
        return json.loads(done.stdout)


def _reason(output):
    """The command's error, without the log lines before it."""
    return output.strip().partition("CommandError: ")[2] or output.strip()


def _scratch_environment(folder):
    environment = {**os.environ, "EXCHANGE_DATA_DIR": folder, "CELERY_BROKER_URL": "memory://",
                   "DATABASE_URL": f"sqlite:///{Path(folder, 'scratch.sqlite3')}"}
    environment.pop("CELERY_RESULT_BACKEND", None)
    return environment
