"""Gathering work from many threads into batches handled by one thread of its own."""
import logging
import threading

log = logging.getLogger(__name__)


class Batcher:
    """Items added from any thread are handed to `handle` in batches, in a thread started with the first
    item: all that waits at once, or, with a `window`, what arrives within it (sooner once `size` wait)."""

    def __init__(self, handle, name, window=0.0, size=None):
        self._handle, self._name, self._window, self._size = handle, name, window, size
        self._waiting = []
        self._arrived = threading.Condition()
        self._thread = None

    def add(self, item):
        with self._arrived:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._waiting.append(item)
            if len(self._waiting) in (1, self._size):
                self._arrived.notify()

    def _run(self):
        while True:
            with self._arrived:
                self._arrived.wait_for(lambda: self._waiting)
                if self._window:
                    self._arrived.wait_for(lambda: len(self._waiting) >= self._size, self._window)
                batch, self._waiting = self._waiting, []
            try:
                self._handle(batch)
            except Exception:   # the thread serves every later batch too
                log.exception("%s: a batch of %d failed", self._name, len(batch))
