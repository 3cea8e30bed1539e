"""Celery beat's minute task fans out to every transport server, which samples its own queues and log."""
from celery import shared_task

from exchange_console.organization.models import TransportServer


@shared_task(ignore_result=True)
def sample_all_servers():
    for server in TransportServer.objects.local():
        record_queue_sample.apply_async((server.name,), queue=server.celery_queue)


@shared_task(ignore_result=True)
def record_queue_sample(server_name):
    from exchange_console.toolbox.samples import record_sample

    record_sample(server_name)
