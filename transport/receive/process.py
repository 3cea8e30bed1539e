"""The receive listeners of a transport server run in a process of their own, started by its worker.

SMTP sessions then have an interpreter (and a core) to themselves: the event loop never waits for the
interpreter lock while the worker's task threads categorize and deliver. The worker reads the configuration
(ORM) and sends the snapshot down a pipe; this process builds the runtime, applies it on its event loop and
answers with each binding's status. It dies with the worker (a killed worker leaves no listener behind).
"""
import asyncio
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time

from transport.receive.listeners import ReceiveService
from transport.receive.runtime import build_runtime

log = logging.getLogger("transport")

APPLY_TIMEOUT = 30
FIRST_RESTART_DELAY = 1   # seconds; doubled while the process keeps dying, up to the worker's limit
PR_SET_PDEATHSIG = 1


class ReceiveLoop:
    """The event loop thread of the receive process and the receive service on it."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.service = ReceiveService(self.loop)
        self.thread = threading.Thread(target=self.loop.run_forever, name="smtp-receive", daemon=True)
        self.thread.start()

    def apply(self, snapshot):
        """Run `snapshot` from now on; returns {binding: status}."""
        runtime = build_runtime(snapshot, previous=self.service.runtime)
        return self.run(self.service.apply(runtime))

    def counts(self):
        """The sessions' counters, for the worker's metrics."""
        return self.run(self.service.counts())

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(APPLY_TIMEOUT)

    def stop(self):
        self.run(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def serve(connection, parent_pid):
    """The receive process: apply each snapshot received and answer with the bindings' status, answer a
    request for the counters with them, until told to stop; exit at once when the worker is gone."""
    _die_with(parent_pid)
    # The worker alone ends this process (a stop over the pipe, or its own death): Ctrl-C or a TERM sent to
    # the whole process group must not take the listeners away while the worker is still shutting down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import django

    django.setup()   # settings, logging and the Celery app (the hand-off to the categorizer); no ORM here
    receive = ReceiveLoop()
    while True:
        try:
            command, snapshot = connection.recv()
        except (EOFError, OSError):
            os._exit(1)
        if command == "stop":
            break
        try:
            connection.send(("ok", receive.counts() if command == "counts" else receive.apply(snapshot)))
        except Exception as error:
            log.exception("The receive process could not answer %r", command)
            connection.send(("error", f"{type(error).__name__}: {error}"))
    receive.stop()


def _die_with(parent_pid):
    """SIGKILL when the worker dies (Linux), and never outlive it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:
        os._exit(1)


class ReceiveProcess:
    """The worker's handle on its receive process. A process that dies unexpectedly is started again, for as
    long as the worker runs, after a delay that doubles while it keeps dying (up to `max_restart_delay`
    seconds), and given the configuration again (`on_restart`); `on_exit(exitcode, delay)` hears of each
    exit before the wait."""

    def __init__(self, on_restart, on_exit, max_restart_delay):
        self._on_restart = on_restart
        self._on_exit = on_exit
        self._max_restart_delay = max_restart_delay
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._start()
        threading.Thread(target=self._watch, name="smtp-receive-watch", daemon=True).start()

    def _start(self):
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, os.getpid()),
                                       name="smtp-receive", daemon=True)
        self.process.start()
        child.close()

    def apply(self, snapshot):
        """Send the snapshot; returns {binding: status} once the receive process runs it, or None if there is
        no process to run it (starting it again gives it the configuration of that moment)."""
        return self._ask("apply", snapshot)

    def counts(self):
        """The sessions' counters (ReceiveService.counts), or None if there is no process to ask."""
        return self._ask("counts", None)

    def _ask(self, command, value):
        with self._lock:
            if self._exited():
                return None
            try:
                while self._connection.poll():   # the late answer to a request that timed out
                    self._connection.recv()
                self._connection.send((command, value))
                if not self._connection.poll(APPLY_TIMEOUT):
                    raise TimeoutError(f"The receive process did not answer {command!r} in time")
                outcome, value = self._connection.recv()
            except (EOFError, BrokenPipeError, ConnectionResetError):   # it died meanwhile
                return None
        if outcome == "error":
            raise RuntimeError(value)
        return value

    def _exited(self):
        """Whether the process has ended, without reaping it (the watcher does, for its exit code)."""
        return bool(multiprocessing.connection.wait([self.process.sentinel], timeout=0))

    def _watch(self):
        delay, up_since = 0, time.monotonic()
        while True:
            multiprocessing.connection.wait([self.process.sentinel])
            if self._stopping.is_set():   # stop() ends and reaps it
                return
            self.process.join()   # reaped, for its exit code
            delay = self._next_delay(delay, time.monotonic() - up_since)
            log.error("The receive process exited (code %s); starting it again in %d s", self.process.exitcode, delay)
            try:
                self._on_exit(self.process.exitcode, delay)
            except Exception:
                log.exception("Could not record that the receive process exited")
            if self._stopping.wait(delay):
                return
            if self._restart():
                up_since = time.monotonic()

    def _next_delay(self, delay, uptime):
        """1 s after a first exit, then twice the last delay up to the limit; a process that stayed up for as
        long as the limit wasn't crash-looping, so its exit starts the sequence over."""
        if not delay or uptime >= self._max_restart_delay:
            return FIRST_RESTART_DELAY
        return min(delay * 2, self._max_restart_delay)

    def _restart(self):
        """Start a new receive process and give it the configuration; False if that failed."""
        try:
            with self._lock:
                if self._stopping.is_set():
                    return False
                self._start()
            self._on_restart()
            return True
        except Exception:
            log.exception("Could not start the receive process again")
            return False

    def stop(self):
        self._stopping.set()
        with self._lock:
            try:
                self._connection.send(("stop", None))
            except OSError:
                pass
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()
