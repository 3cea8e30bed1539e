"""Debian's Postfix as the benchmarks' anchor: an instance of its own (configuration, queue, data and log in a
throw-away folder) that listens on 127.0.0.1:port and relays every message to [127.0.0.1]:smart_host_port, or
keeps it queued when there is no smart host. The system's Postfix, if there is one, is neither used nor
changed, so a run never meets mail an earlier run left behind. Starting Postfix needs root."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from smtp_load import refuse_if_busy, wait_for_port

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
maillog_file = {folder}/postfix.log
maillog_file_prefixes = {folder}
myhostname = anchor.bench.test
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
in_flow_delay = 0
default_process_limit = 100
default_destination_concurrency_limit = 50
"""
# Only the services a relay uses, none chrooted (the throw-away queue folder holds no chroot jail).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
showq     unix n - n - - showq
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixAnchor:
    def __init__(self, port, smart_host_port=None):
        self.port = port
        self.smart_host_port = smart_host_port
        self.folder = None

    def __enter__(self):
        if shutil.which("postfix") is None:
            raise SystemExit("the Postfix anchor needs Debian's postfix package (apt-get install postfix)")
        if os.geteuid() != 0:
            raise SystemExit("the Postfix anchor starts Postfix, which needs root")
        refuse_if_busy(self.port)
        self.folder = Path(tempfile.mkdtemp(prefix="postfix-anchor-"))
        self.folder.chmod(0o755)   # Postfix's daemons run as the postfix user and must reach the queue
        self._configure()
        try:
            self._start()
            wait_for_port(self.port)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        # Unchecked: after a failed start there is nothing to stop.
        subprocess.run(["postfix", "-c", str(self.folder / "etc"), "stop"], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _configure(self):
        config = self.folder / "etc"
        for name in ("etc", "queue", "data"):
            (self.folder / name).mkdir()
        shutil.chown(self.folder / "data", "postfix", "postfix")   # master.lock, the TLS caches
        main_cf = MAIN_CF.format(folder=self.folder)
        if self.smart_host_port:
            main_cf += f"relayhost = [127.0.0.1]:{self.smart_host_port}\n"
        else:
            main_cf += "defer_transports = smtp\n"   # accepted and queued, never delivered
        (config / "main.cf").write_text(main_cf)
        (config / "master.cf").write_text(MASTER_CF.format(port=self.port))

    def _start(self):
        result = subprocess.run(["postfix", "-c", str(self.folder / "etc"), "start"], capture_output=True, text=True)
        if result.returncode:
            # Off a terminal, postfix writes why only to its log file.
            log = self.folder / "postfix.log"
            raise SystemExit(f"postfix start failed: {log.read_text()[-1000:] if log.exists() else result.stderr}")
