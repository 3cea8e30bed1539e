"""What an administrator does to a queue or a message while the transport is delivering it: the transport's
outcome never overwrites the administrator's action (Exchange's PendingSuspend / PendingRemove), run over real
loopback SMTP peers with the queue actions the console and the shell use."""
import pytest
from django.db import connection

from exchange_console.queues import actions
from tests.send_peers import Sink
from tests.test_send_delivery import org, smart_host_connector, store_ids, submit, tasks  # noqa: F401 (fixtures)
from transport.queue.models import DeliveryQueue, MessageStatus, QueuedMessage, QueueStatus

DEFERRED = "451 4.3.2 Try again later"


def while_in_flight(action, reply=DEFERRED):
    """A peer hook: run `action` (from the peer's thread, as another administrator's request would) while the
    message's content is in flight, then answer with `reply`."""
    def hook():
        try:
            action()
        finally:
            connection.close()   # this thread's own database connection
        return reply
    return hook


def only_message():
    return QueuedMessage.objects.select_related("queue__server").get()


def test_a_message_suspended_during_its_attempt_stays_suspended_until_resumed(org, tasks):
    smart_host_connector("Out", "127.0.0.61", 30061)
    with Sink("127.0.0.61", 30061, on_data=while_in_flight(lambda: actions.suspend_message(only_message()))):
        submit(tasks, ["bob@fabrikam.com"])
    message = only_message()
    assert (message.status, message.last_error) == (MessageStatus.SUSPENDED, DEFERRED)

    QueuedMessage.objects.update(next_retry_time=None)   # its retry would be due: a suspended message waits
    with Sink("127.0.0.61", 30061) as sink:
        tasks.run(include_delayed=True)
        assert sink.received == []
        actions.resume_message(only_message())
        tasks.run()
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert QueuedMessage.objects.count() == 0 and store_ids() == []


def test_a_message_resumed_before_its_attempt_ends_is_not_claimed_twice(org, tasks):
    smart_host_connector("Out", "127.0.0.62", 30062)

    def suspend_then_resume():
        actions.suspend_message(only_message())
        assert only_message().status == MessageStatus.PENDING_SUSPEND
        actions.resume_message(only_message())
        assert only_message().status == MessageStatus.ACTIVE   # still this attempt's, no second claim

    with Sink("127.0.0.62", 30062, on_data=while_in_flight(suspend_then_resume, reply=None)) as sink:
        submit(tasks, ["bob@fabrikam.com"])
    assert [m.rcpt_tos for m in sink.received] == [["bob@fabrikam.com"]]
    assert QueuedMessage.objects.count() == 0


def test_a_queue_suspended_during_an_attempt_stops_after_the_message_in_flight(org, tasks):
    smart_host_connector("Out", "127.0.0.63", 30063, SmtpMaxMessagesPerConnection=1)
    suspend = while_in_flight(lambda: actions.suspend_queue(DeliveryQueue.objects.select_related("server").get()),
                              reply=None)
    with Sink("127.0.0.63", 30063, on_data=suspend) as sink:
        submit(tasks, ["bob@fabrikam.com", "carol@fabrikam.com"], subject="First")
        sink.handler.on_data = None
        assert len(sink.received) == 1
    with Sink("127.0.0.63", 30063) as sink:
        submit(tasks, ["dave@fabrikam.com"], subject="Second")
        assert sink.received == []
        queue = DeliveryQueue.objects.select_related("server").get()
        assert queue.status == QueueStatus.SUSPENDED
        actions.resume_queue(queue)
        tasks.run()
    assert [m.rcpt_tos for m in sink.received] == [["dave@fabrikam.com"]]
    assert DeliveryQueue.objects.get().status == QueueStatus.READY


@pytest.mark.parametrize("reply", [DEFERRED, None])
def test_a_message_removed_during_its_attempt_is_not_put_back(org, tasks, reply):
    smart_host_connector("Out", "127.0.0.64", 30064)
    remove = while_in_flight(lambda: actions.remove_message(only_message(), with_ndr=False), reply=reply)
    with Sink("127.0.0.64", 30064, on_data=remove):
        submit(tasks, ["bob@fabrikam.com"])
    QueuedMessage.objects.update(next_retry_time=None)
    with Sink("127.0.0.64", 30064) as sink:
        tasks.run(include_delayed=True)
        assert sink.received == []
    assert QueuedMessage.objects.count() == 0 and store_ids() == []
