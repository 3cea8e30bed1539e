"""The transport worker: a Celery worker bound to one transport server's queue.

Until the receive side lands it loads and logs the server's configuration snapshot at start and on every
reload_configuration task.
"""
import logging

from celery import bootsteps

from transport.snapshot import build_snapshot

log = logging.getLogger("transport")

_running = {}


def reload_running_configuration(server_name):
    snapshot = build_snapshot(server_name)
    _running["snapshot"] = snapshot
    log.info("Transport server %s (%s): %d receive connector(s): %s", snapshot.name, snapshot.fqdn,
             len(snapshot.receive_connectors),
             "; ".join(f"{c.identity} {','.join(c.bindings)}{'' if c.enabled else ' (disabled)'}"
                       for c in snapshot.receive_connectors) or "none")
    return snapshot


class TransportServerStep(bootsteps.StartStopStep):
    """Loads the server's configuration when the worker starts."""

    def __init__(self, worker, transport_server=None, **options):
        super().__init__(worker, **options)
        self.server_name = transport_server

    def start(self, worker):
        if self.server_name:
            reload_running_configuration(self.server_name)
