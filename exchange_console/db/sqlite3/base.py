"""Django's SQLite backend, with the write transactions of one process taken in turn on a lock of its own.

SQLite lets one connection write at a time. A thread that finds the database locked sleeps in SQLite's busy
handler and tries again (after 1 ms, 2 ms, 5 ms, 10 ms...), so the threads of a transport worker, which write for
every message, slept more than they worked. Here a transaction (BEGIN IMMEDIATE: every transaction of ours takes
the write lock at its start) first waits for the threads of its process on a lock that wakes it as soon as it is
free; SQLite's busy handler still arbitrates between processes (console, workers).
"""
import threading

from django.db.backends.sqlite3 import base

_write_turn = threading.RLock()   # one per process: the connections of its threads share it


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_turn = False

    def _start_transaction_under_autocommit(self):
        _write_turn.acquire()
        self._holds_write_turn = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._end_write_turn()
            raise

    def _set_autocommit(self, autocommit):
        super()._set_autocommit(autocommit)
        if autocommit:   # the transaction ended (committed or rolled back)
            self._end_write_turn()

    def _close(self):
        try:
            super()._close()
        finally:
            self._end_write_turn()

    def _end_write_turn(self):
        if self._holds_write_turn:
            self._holds_write_turn = False
            _write_turn.release()
