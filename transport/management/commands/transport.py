"""`manage.py transport --server NAME`: a Celery worker that consumes NAME's queue and runs its transport."""
import sys

from celery.signals import task_postrun, task_prerun
from click import Option
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.db.backends.signals import connection_created

from exchange_console.celery import app
from exchange_console.edge.service import EdgeSyncStep
from exchange_console.organization.models import TransportServer
from transport.worker import TransportServerStep


class Command(BaseCommand):
    help = "Run the transport worker of one transport server (a Celery worker on that server's queue)."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True, help="Transport server name, as in Get-TransportServer")
        parser.add_argument("--concurrency", type=int, default=None,
                            help="Pool threads for the categorizer and delivery (default: 2 on SQLite, 4 on "
                                 "PostgreSQL)")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, server, concurrency, loglevel, **options):
        connection_created.connect(commit_without_waiting_for_the_disk)
        keep_connections_across_tasks()
        bind_parameters_on_the_server()
        found = TransportServer.objects.filter(name__iexact=server).first()
        if found is None:
            raise CommandError(f"The transport server '{server}' couldn't be found.")
        app.user_options["worker"].add(Option(("--transport-server",), default=found.name,
                                              help="Transport server whose configuration this worker runs"))
        app.steps["worker"].add(TransportServerStep)
        app.steps["worker"].add(EdgeSyncStep)   # the EdgeSync service runs beside the transport, as in Exchange
        concurrency = concurrency or default_concurrency(connections[DEFAULT_DB_ALIAS].vendor)
        app.worker_main([
            *(["--quiet"] if settings.LOG_FORMAT == "json" else []),   # no banner: every line is an event
            "worker", f"--queues={found.celery_queue},management", f"--hostname={found.name.lower()}@%h",
            f"--concurrency={concurrency}", f"--loglevel={loglevel}", "--pool=threads",
            f"--transport-server={found.name}", "--without-gossip", "--without-mingle",
        ])


def keep_connections_across_tasks():
    """The pool's few long-lived threads each keep their database connection, instead of one per task: Celery's
    Django fixup closes every connection before and after each task (a new PostgreSQL backend, or SQLite reading
    the schema again, for every delivery attempt) unless it is told to reuse them, and then it never closes one.
    Django's own rule decides instead, as between two requests: a connection that broke is replaced."""
    connections.settings[DEFAULT_DB_ALIAS]["CONN_MAX_AGE"] = None
    app.conf.CELERY_DB_REUSE_MAX = sys.maxsize   # the fixup closes after twice this many tasks
    task_prerun.connect(_close_unusable_connections, weak=False)
    task_postrun.connect(_close_unusable_connections, weak=False)


def bind_parameters_on_the_server():
    """On PostgreSQL the worker sends its statements and their parameters apart (server-side binding), so that a
    statement it runs for every message (queueing, claiming, removing) is parsed and planned once per connection and
    then only executed: planning a statement on the queue tables, with their indexes, cost the server more than
    running it. Parameters are no longer quoted into the text by psycopg either."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        options = connections.settings[DEFAULT_DB_ALIAS].setdefault("OPTIONS", {})
        options.setdefault("server_side_binding", True)
        options.setdefault("prepare_threshold", 5)   # psycopg's own default; Django's is never to prepare


def _close_unusable_connections(**kwargs):
    close_old_connections()


def default_concurrency(vendor):
    """On PostgreSQL a pool thread spends much of its time waiting for the server's replies, so four threads relay
    more than two. SQLite answers in-process and one connection writes at a time: two threads keep the work
    going, more only take the interpreter from each other and make every connection read again the pages
    another one changed."""
    return 2 if vendor == "sqlite" else 4


def commit_without_waiting_for_the_disk(sender, connection, **kwargs):
    """The worker's commits are queue bookkeeping: the durable record of a message is its store file, fsynced
    before the 250, and a restart categorizes again whatever the store holds that no queue does. So they needn't
    wait for the disk (still atomic; only the last moments before a power failure may be redone)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous=NORMAL")
        elif connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit TO off")
