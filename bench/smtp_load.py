"""The SMTP load of the benchmarks, on loopback, with the test tools of Debian's postfix package: smtp-source
sends the messages (concurrent sessions, one recipient each), smtp-sink takes what a relay passes on and
counts it. Nothing here is specific to our transport: the same load runs against the Postfix anchor."""
import os
import re
import socket
import subprocess
import threading
import time

SESSIONS, SIZE = 20, 4096
SENDER, RECIPIENT = "bench@source.test", "user@sink.test"
RELAY_TIMEOUT = 120   # seconds the sink waits for the last message once every message was accepted


def refuse_if_busy(port):
    """The ports are fixed: a run started while another one goes on would measure the other run's servers."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"127.0.0.1:{port} is in use (another benchmark running?); try again once it is free")


def wait_for_port(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def send(port, messages, sessions=SESSIONS, size=SIZE):
    """smtp-source: `messages` messages of `size` bytes over `sessions` concurrent sessions; returns seconds."""
    started = time.monotonic()
    source = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                             "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{port}"], capture_output=True, text=True)
    if source.returncode:
        raise SystemExit(f"smtp-source against 127.0.0.1:{port} failed: {source.stderr[-500:]}")
    return time.monotonic() - started


class Sink:
    """smtp-sink on 127.0.0.1:port, counting the messages it took from its running counters (`-c`)."""

    def __init__(self, port):
        self.port = port
        self.messages = 0
        self._process = None
        self._reader = None

    def __enter__(self):
        refuse_if_busy(self.port)
        user = ["-u", "nobody"] if os.geteuid() == 0 else []   # smtp-sink refuses to run as root without -u
        self._process = subprocess.Popen(["smtp-sink", *user, "-c", f"127.0.0.1:{self.port}", "1000"],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read_counters, daemon=True)
        self._reader.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc):
        self._process.terminate()
        self._process.wait(10)
        self._reader.join(10)
        self._process.stdout.close()

    def _read_counters(self):
        # smtp-sink rewrites one line ("sess=3 quit=2 mesg=41\r") after every session and message.
        for chunk in iter(lambda: self._process.stdout.read1(4096), b""):
            counts = re.findall(rb"mesg=(\d+)", chunk)
            if counts:
                self.messages = int(counts[-1])

    def wait_for(self, count, timeout=RELAY_TIMEOUT):
        """Wait until `count` messages arrived or `timeout` seconds passed; returns how many arrived."""
        deadline = time.monotonic() + timeout
        while self.messages < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


def relay(label, relay_port, sink_port, messages, profile=None):
    """Send through the relay on relay_port to a sink on sink_port and print the figures; returns the end-to-end
    messages per second, or 0 when not every message arrived. `profile`: started with the load, stopped once the
    sink has every message (relay_profile.Profile)."""
    with Sink(sink_port) as sink:
        if profile:
            profile.start()
        started = time.monotonic()
        accepted = send(relay_port, messages)
        relayed = sink.wait_for(messages)
        elapsed = time.monotonic() - started
        if profile:
            profile.stop()
    print(f"{label:17} 127.0.0.1:{relay_port} -> smtp-sink 127.0.0.1:{sink_port}: accepted {messages} in "
          f"{accepted:.2f}s ({messages / accepted:.0f}/s); relayed {relayed}/{messages} in {elapsed:.2f}s "
          f"({relayed / elapsed:.0f}/s end-to-end)")
    return relayed / elapsed if relayed >= messages else 0
