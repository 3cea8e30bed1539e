"""`manage.py transport_health --server NAME`: exit 0 when NAME's transport worker is healthy (a fresh
heartbeat, its broker connected, every binding listening), else 1 with a one-line reason: a container's
healthcheck."""
import sys

from django.core.management.base import BaseCommand, CommandError

from exchange_console.organization.models import HEALTHY, TransportServer


class Command(BaseCommand):
    help = "Exit 0 when the transport worker of a server runs, listens on every binding and reaches its broker."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True, help="Transport server name, as in Get-TransportServer")

    def handle(self, *args, server, **options):
        found = TransportServer.objects.filter(name__iexact=server).first()
        if found is None:
            raise CommandError(f"The transport server '{server}' couldn't be found.")
        if found.worker_health != HEALTHY:
            self.stderr.write(f"{found.name}: {found.worker_health}")
            sys.exit(1)
        self.stdout.write(f"{found.name}: {HEALTHY}: {len(found.listener_bindings())} binding(s) listening, broker "
                          f"connected, heartbeat at {found.receive_listener_status['heartbeat']}")
