"""`manage.py export_config [--server NAME] [--output FILE]`: the organization (or what one Hub server has: its
settings and receive connectors, the connectors it is a source of, and the organization's settings that apply to it)
as an Exchange Management Shell script of New-/Set- commands that recreates it on an empty installation, after the
install commands its header names. Only what an installation doesn't already have is written; secrets are
placeholders the administrator fills in."""
from datetime import datetime, timezone
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange_console.configuration.scratch import ScratchError, install_commands, installation, scratch_state
from exchange_console.configuration.script import script_text
from exchange_console.configuration.state import capture
from exchange_console.organization.models import Organization, TransportServer

NOT_EXPORTED = [
    "# Not in this script:",
    "#  - certificates: each server makes its own self-signed certificate at install; enable or import others there;",
    "#  - Edge subscriptions, and the Edge servers and EdgeSync connectors they bring: a subscription can't be",
    "#    recreated from a script; subscribe each Edge again with New-EdgeSubscription;",
    "#  - the console's administrators (their role group memberships are), and the servers a Server Management",
    "#    member was limited to on the Administrators page without a management scope;",
    "#  - the admin audit log; messages in queues.",
]


class Command(BaseCommand):
    help = "Write the configuration as an EMS script of New-/Set- commands that recreates it on an empty installation."

    def add_arguments(self, parser):
        parser.add_argument("--server", help="only what this Hub Transport server has and what applies to it")
        parser.add_argument("--output", help="the script file to write (default: standard output)")

    def handle(self, *args, server=None, output=None, **options):
        text = export(hub_server(server))
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")


def export(server=None):
    """The script: from what install_organization and install_server give, to the live configuration."""
    if not Organization.objects.exists():
        raise CommandError("The organization isn't installed: there is nothing to export.")
    spec = installation(server)
    try:
        baseline = scratch_state(spec, server.name if server else None)
    except ScratchError as error:
        raise CommandError(f"The installation this script starts from couldn't be made: {error}") from None
    return script_text(baseline, capture(server), header=header(spec, server))


def header(spec, server):
    what = f"the transport server {server.name} of " if server else ""
    return [f"# The configuration of {what}the Exchange organization '{spec['organization']}', "
            f"exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC.",
            "# Run it in the Exchange Management Shell (manage.py ems -f FILE) of a new installation, after:",
            *(f"#   {command}" for command in install_commands(spec)),
            *([f"# and once the console's Administrators page has these administrators, without role groups (the "
               f"script adds them): {', '.join(spec['administrators'])}."] if spec["administrators"] else []),
            *NOT_EXPORTED]


def hub_server(name):
    if name is None:
        return None
    server = TransportServer.objects.local().filter(name__iexact=name).first()
    if server is None:
        raise CommandError(f"--server: '{name}' isn't a Hub Transport server of this organization.")
    return server
