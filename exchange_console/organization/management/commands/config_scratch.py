"""`manage.py config_scratch SPEC.json [--script FILE] [--server NAME]`: used by export_config and diff_config
(configuration/scratch.py), in a process whose DATABASE_URL and EXCHANGE_DATA_DIR name a scratch folder: migrate,
install as the spec says, run the script, print the configuration's state as JSON. Never run it on a live
database."""
import io
import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from exchange_console.configuration.state import capture
from exchange_console.organization import setup
from exchange_console.organization.models import Organization, TransportServer
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import Host


class Command(BaseCommand):
    help = "Internal to export_config and diff_config: a scratch configuration's state, as JSON."

    def add_arguments(self, parser):
        parser.add_argument("spec")
        parser.add_argument("--script")
        parser.add_argument("--server")
        parser.add_argument("--origin", default="script", help="the script's name in error messages")

    def handle(self, *args, spec, script=None, server=None, origin="script", **options):
        call_command("migrate", verbosity=0)
        if Organization.objects.exists():
            raise CommandError("config_scratch runs on an empty database only.")
        install(json.loads(Path(spec).read_text()))
        if script:
            run_script(Path(script), origin)
        scope = TransportServer.objects.get(name=server) if server else None
        self.stdout.write(json.dumps(capture(scope)))


def install(spec):
    setup.install_organization(spec["organization"], spec["site"])
    setup.ensure_accepted_domain(spec["accepted_domain"])
    for server in spec["servers"]:
        setup.install_transport_server(server["name"], server["fqdn"], spec["site"])
    for username in spec["administrators"]:
        get_user_model().objects.create_user(username)  # no password: nobody signs in here


def run_script(path, origin):
    text = path.read_text(encoding="utf-8")
    try:
        Session(Host(io.StringIO(), io.StringIO())).run(text, origin=origin)
    except ShellError as error:
        raise CommandError(error.render(text, origin)) from None
