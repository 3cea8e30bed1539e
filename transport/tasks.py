"""Celery tasks that run on a transport server's own queue (transport.<server>)."""
import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def reload_configuration(server_name):
    """A configuration change affecting this server committed: rebuild the snapshot the runtime reads."""
    from transport.worker import reload_running_configuration

    reload_running_configuration(server_name)
