"""Probes for Docker, orchestrators and load balancers: /healthz (the process answers) and /readyz (it can
reach the database and the broker, so a request would get a page rather than a 500)."""
import logging

from django.db import DatabaseError, connection
from django.http import HttpResponse, HttpResponseNotAllowed

from exchange_console.celery import app

logger = logging.getLogger(__name__)


def probes(get_response):
    """Middleware, first in the stack: probes come by address (not a name in ALLOWED_HOSTS), over plain HTTP
    from inside the network, and without a session, so they are answered before the host check, the HTTPS
    redirect and sign-in, which would refuse them."""
    def middleware(request):
        probe = PROBES.get(request.path_info)
        if probe is None:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return probe()
    return middleware


def healthz():
    return _report({})


def readyz():
    return _report({"database": _database_reachable(), "broker": _broker_reachable()})


def _report(dependencies):
    """200 when every dependency is reachable, else 503; one line each. What went wrong is logged, not shown
    to whoever asks."""
    lines = [f"{name}: {'ok' if reachable else 'unreachable'}" for name, reachable in dependencies.items()]
    status = 200 if all(dependencies.values()) else 503
    return HttpResponse("\n".join(lines or ["ok"]) + "\n", status=status, content_type="text/plain",
                        headers={"Cache-Control": "no-store"})


def _database_reachable():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("readyz: the database is unreachable: %s", error)
        return False
    return True


def _broker_reachable():
    try:
        with app.connection_for_read() as broker:
            broker.ensure_connection(max_retries=0)  # one attempt: the probe's caller retries
    except Exception as error:  # kombu raises its own errors and the transport's (socket, redis, OS)
        logger.warning("readyz: the broker is unreachable: %s", error)
        return False
    return True


PROBES = {"/healthz": healthz, "/readyz": readyz}
