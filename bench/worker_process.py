"""What the benchmarks read of a running transport worker's processes, from /proc: their resident memory and CPU
time, and which child is the receive process."""
import os
import re
import time
from pathlib import Path


def receive_process(worker_pid, timeout=60):
    """The worker's receive process (its child that holds the listening socket)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text().split():
            if "spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return int(child)
        time.sleep(0.2)
    raise SystemExit("the worker started no receive process")


def rss(pid):
    """The process's resident memory, in KiB."""
    return int(re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M).group(1))


def cpu_seconds(pid):
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid, quiet=2.0, timeout=600):
    """Wait until the process has used no more than 5% of a CPU for `quiet` seconds; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(quiet)
        if cpu_seconds(pid) - before <= 0.05 * quiet:
            return time.monotonic() - started - quiet
    return time.monotonic() - started
