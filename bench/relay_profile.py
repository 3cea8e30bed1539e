"""relay_bench --profile: where a transport worker's time goes per message, by stage.

py-spy samples the worker and its receive process while the load runs, counting only the thread that holds the
interpreter lock (--gil), so a sample is Python at work, not a thread waiting. Each stack is put in the first stage
whose marker it contains; the figures are milliseconds of interpreter time per message relayed. Beside them, each
process's CPU time per message from /proc (user and system, which includes the kernel's file and socket work).
"""
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from worker_process import cpu_seconds, receive_process

RATE = 250   # samples per second
# (process, stage, markers): a stack containing one of the markers (function names as py-spy prints them)
STAGES = (
    ("receive process", "store (write, sync, rename)", ("MessageStore.accept_group",)),
    ("receive process", "hand-off (tracking log, categorizer task)", ("_hand_on", "CategorizerHandoff")),
    ("receive process", "receive (SMTP sessions, event loop)", ("",)),
    ("worker", "categorize", ("categorize_messages",)),
    ("worker", "deliver: SMTP to the next hop", ("SmtpAgent.",)),
    ("worker", "deliver: queue, store and logs", ("deliver_queue",)),
    ("worker", "broker and other", ("",)),
)


class Profile:
    """py-spy on the worker and its receive process, from start() to stop()."""

    def __init__(self, worker_pid):
        beside = Path(sys.executable).with_name("py-spy")   # in the virtual environment, without activating it
        self.py_spy = str(beside) if beside.exists() else shutil.which("py-spy")
        if not self.py_spy:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.pids = {"worker": worker_pid, "receive process": receive_process(worker_pid)}
        self.folder = Path(tempfile.mkdtemp(prefix="relay-profile-"))
        self.samplers, self.cpu = {}, {}

    def start(self):
        for name, pid in self.pids.items():
            self.cpu[name] = cpu_seconds(pid)
            self.samplers[name] = subprocess.Popen(
                [self.py_spy, "record", "--pid", str(pid), "--gil", "--nonblocking", "--rate", str(RATE),
                 "--format", "raw", "--output", str(self.folder / f"{name}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        for name, pid in self.pids.items():
            self.cpu[name] = cpu_seconds(pid) - self.cpu[name]
        for sampler in self.samplers.values():
            sampler.send_signal(2)   # py-spy writes its file on SIGINT
            sampler.wait(60)

    def report(self, messages):
        print(f"where the time goes, per message ({messages} messages; interpreter time from py-spy --gil):")
        for process in self.pids:
            samples = _stacks(self.folder / f"{process}.txt")
            stages = Counter()
            for stack, count in samples.items():
                stages[_stage(process, stack)] += count
            for _, stage, _ in (entry for entry in STAGES if entry[0] == process):
                print(f"  {process:16} {stage:45} {1000 * stages[stage] / RATE / messages:6.3f} ms")
            print(f"  {process:16} {'CPU time (user + system), from /proc':45} "
                  f"{1000 * self.cpu[process] / messages:6.3f} ms")
        shutil.rmtree(self.folder, ignore_errors=True)


def _stacks(path):
    """{stack: samples} of a py-spy raw file (one 'frame;frame;... count' line per distinct stack)."""
    stacks = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if count.isdigit():
                stacks[stack] += int(count)
    return stacks


def _stage(process, stack):
    for owner, stage, markers in STAGES:
        if owner == process and any(marker in stack for marker in markers):
            return stage
