"""`manage.py diff_config FILE [--server NAME]`: what differs between the live configuration and the one the script
FILE makes (an export_config script, edited or not). The script runs in a scratch configuration installed as the
live one was (configuration/scratch.py): never against the live data, never heard of by a worker. Prints the
differences object by object and parameter by parameter; exit status 0 when there are none, 1 when there are, 2
when the script can't be run to its end."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange_console.configuration.diff import differences
from exchange_console.configuration.scratch import ScratchError, installation, scratch_state
from exchange_console.configuration.state import capture
from exchange_console.organization.management.commands.export_config import hub_server


class Command(BaseCommand):
    help = "Show what differs between the live configuration and the one an EMS script makes; exit 1 if anything."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the EMS script, e.g. one export_config wrote")
        parser.add_argument("--server",
                            help="compare only what this Hub Transport server has (as export_config --server)")

    def handle(self, *args, file, server=None, **options):
        try:
            script = Path(file).read_text(encoding="utf-8-sig")
        except OSError as error:
            raise CommandError(f"FILE: '{file}' can't be read: {error.strerror}.", returncode=2) from None
        server = hub_server(server)
        try:
            scripted = scratch_state(installation(server), server.name if server else None, script=script,
                                     origin=file)
        except ScratchError as error:
            raise CommandError(f"The script stopped before its end:\n{error}", returncode=2) from None
        lines = differences(capture(server), scripted)
        for line in lines:
            self.stdout.write(line)
        if not lines:
            self.stdout.write("The configuration the script makes is the live configuration.")
        if lines:
            raise SystemExit(1)
