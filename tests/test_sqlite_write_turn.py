"""On SQLite, the threads of a process take their write transactions in turn (exchange_console/db/sqlite3): a
transaction gives its turn back however it ends, so the other threads of a worker never wait for ever."""
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import OperationalError, connection, transaction

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock only")


def write_from_another_thread(name, wait=5):
    """Create a group in a transaction of another thread; the event set once it committed, after waiting for it
    up to `wait` seconds."""
    done = threading.Event()

    def write():
        try:
            with transaction.atomic():
                Group.objects.create(name=name)
            done.set()
        finally:
            connection.close()

    threading.Thread(target=write, daemon=True).start()
    done.wait(wait)
    return done


def test_a_committed_a_failed_and_a_broken_transaction_each_give_the_turn_back(transactional_db):
    with transaction.atomic():
        Group.objects.create(name="committed")
    assert write_from_another_thread("after a commit").is_set()

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Group.objects.create(name="rolled back")
        1 / 0
    assert write_from_another_thread("after a rollback").is_set()

    with pytest.raises(OperationalError), transaction.atomic():
        connection.cursor().execute("INSERT INTO no_such_table VALUES (1)")
    connection.close()
    assert write_from_another_thread("after a closed connection").is_set()
    assert set(Group.objects.values_list("name", flat=True)) == {
        "committed", "after a commit", "after a rollback", "after a closed connection"}


def test_another_thread_writes_once_the_transaction_holding_the_turn_commits(transactional_db):
    with transaction.atomic():
        Group.objects.create(name="first")
        second = write_from_another_thread("second", wait=0.5)
        assert not second.is_set()   # it waits for this transaction
    assert second.wait(5)
    assert set(Group.objects.values_list("name", flat=True)) == {"first", "second"}
