"""EdgeSync's Celery tasks, on a Hub's own queue (sent by name through transport.dispatch)."""
import logging

from celery import shared_task

log = logging.getLogger("edgesync")


def _service(task, server_name):
    service = getattr(task.app, "edgesync_services", {}).get(server_name.lower())
    if service is None:
        raise LookupError(f"the worker that took the request doesn't run EdgeSync for {server_name}")
    return service


@shared_task(bind=True)
def synchronize(self, server_name):
    """Start-EdgeSynchronization on this Hub: every kind to every Edge of its site, now."""
    return _service(self, server_name).synchronize(force=True)


@shared_task(bind=True)
def test_synchronization(self, server_name, exclude_recipients=False):
    """Test-EdgeSynchronization from this Hub."""
    return _service(self, server_name).test(exclude_recipients)
