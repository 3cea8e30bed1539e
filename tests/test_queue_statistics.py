"""PostgreSQL's statistics of the queue tables follow the queue as it fills: autovacuum's come a minute or more
after a change, and a claim planned on an empty queue's statistics reads the whole queue."""
import pytest
from django.db import connection

from transport.queue import state
from transport.queue.models import DeliveryType, QueuedMessage
from transport.queue.store import MessageStore

pytestmark = pytest.mark.skipif("connection.vendor != 'postgresql'")


def queue_entries(queue, store, count):
    envelopes = [store.accept(b"Subject: Hello\r\n\r\nbody\r\n", mail_from="sender@example.com",
                              rcpt_tos=["user@relay.example"], received_connector="", client_ip="192.0.2.1",
                              client_hostname="client.example.com", auth_user="", size=24, header_message_id="",
                              subject="Hello") for _ in range(count)]
    state.enqueue_new((queue, envelope, ["user@relay.example"]) for envelope in envelopes)


def estimated_entries():
    """What PostgreSQL's planner believes the queue table holds (-1: never analyzed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [QueuedMessage._meta.db_table])
        return int(cursor.fetchone()[0])


def test_the_queue_tables_are_analyzed_once_as_many_entries_were_queued_as_they_held(db, hub, tmp_path):
    queue = state.queue_for(hub.name, DeliveryType.SMART_HOST_CONNECTOR, "[192.0.2.25]", "Relay")
    store, statistics = MessageStore(tmp_path), state.QueueStatistics()
    queue_entries(queue, store, 600)
    statistics.queued(state.QueueStatistics.AFTER_QUEUED - 1)
    assert estimated_entries() != 600
    statistics.queued(1)   # 500 queued since the start: analyzed
    assert estimated_entries() == 600
    queue_entries(queue, store, 300)
    statistics.queued(599)   # the next analysis waits for as many as the table held (600)
    assert estimated_entries() == 600
    statistics.queued(1)
    assert estimated_entries() == 900
