"""`manage.py transport_health --server NAME`: exit 0 when NAME's transport worker is healthy (a fresh
heartbeat, its broker connected, every binding listening), else 1 with a one-line reason: a container's
healthcheck."""
import sys

from django.core.management.base import BaseCommand, CommandError

from exchange_console.organization.models import TransportServer


class Command(BaseCommand):
    help = "Exit 0 when the transport worker of a server runs, listens on every binding and reaches its broker."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True, help="Transport server name, as in Get-TransportServer")

    def handle(self, *args, server, **options):
        found = TransportServer.objects.filter(name__iexact=server).first()
        if found is None:
            raise CommandError(f"The transport server '{server}' couldn't be found.")
        problem = worker_problem(found)
        if problem:
            self.stderr.write(f"{found.name}: {problem}")
            sys.exit(1)
        bindings = found.listener_bindings()
        self.stdout.write(f"{found.name}: healthy: {len(bindings)} binding(s) listening, broker connected, "
                          f"heartbeat at {found.receive_listener_status['heartbeat']}")


def worker_problem(server):
    """Why the worker isn't healthy, or ''."""
    status = server.receive_listener_status
    if "heartbeat" not in status:   # none yet, or the worker stopped
        return "the transport worker is not running"
    if lost := server.heartbeat_lost():
        return lost
    if status.get("broker") != "Connected":
        return f"broker {status.get('broker')}"
    for binding, state in sorted(server.listener_bindings().items()):
        if state != "Listening":
            return f"{binding} {state}"
    return ""
