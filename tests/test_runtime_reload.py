"""Reloads land in the order they read: the configuration a worker ends up running is the newest one saved, even
when two reload tasks run at once in two pool threads."""
import threading

from django.db import connection

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.services import set_object
from tests.test_send_delivery import org, tasks  # noqa: F401 (fixtures)


def reload_in_a_pool_thread(runtime):
    def reload():
        try:
            runtime.reload()
        finally:
            connection.close()   # this thread's own database connection
    return threading.Thread(target=reload)


def hop_count(configuration):
    return next(c.max_hop_count for c in configuration.receive.receive_connectors if c.name == "Default HUB01")


def test_a_reload_that_read_earlier_never_lands_after_one_that_read_later(org, tasks):  # noqa: F811
    runtime = tasks.runtime("HUB01")
    handed_over, first_may_finish = [], threading.Event()
    first_is_handing_over = threading.Event()

    def receive_listeners(configuration):   # the first hand-over is slow, as a busy receive process can be
        if not first_is_handing_over.is_set():
            first_is_handing_over.set()
            first_may_finish.wait(10)
        handed_over.append(hop_count(configuration))

    runtime.on_reload(receive_listeners)
    earlier = reload_in_a_pool_thread(runtime)
    earlier.start()
    assert first_is_handing_over.wait(10)
    set_object(RECEIVE_CONNECTOR, ReceiveConnector.objects.get(name="Default HUB01"), {"MaxHopCount": 42})
    later = reload_in_a_pool_thread(runtime)
    later.start()
    later.join(1)   # it reads the change (and, unordered, would hand it over before the earlier one finishes)
    first_may_finish.set()
    earlier.join(10), later.join(10)

    assert handed_over[-1] == 42 and hop_count(runtime.configuration) == 42
