"""An Edge Transport server for end-to-end tests: an installation of its own, as on a machine in the perimeter.

Its own data folder and, in it, its own SQLite database and embedded broker: the Edge's processes get an
environment without the organization's DATABASE_URL, broker or result backend, so they can't reach them; the test
process never opens the Edge's database either (it asks the Edge's shell, `manage.py ems`, as an administrator
on the Edge would)."""
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORGANIZATION_ONLY = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "EXCHANGE_DATA_DIR",
                     "EMS_FILE_ROOT")


class EdgeInstallation:
    def __init__(self, name, fqdn, address, smtp_port, edgesync_port):
        self.name, self.fqdn, self.address = name, fqdn, address
        self.smtp_port, self.edgesync_port = smtp_port, edgesync_port
        self.folder = Path(tempfile.mkdtemp(prefix="exchange-edge-"))
        self.worker = None
        self.env = {**{key: value for key, value in os.environ.items() if key not in ORGANIZATION_ONLY},
                    "DJANGO_SETTINGS_MODULE": "tests.settings", "EXCHANGE_DATA_DIR": str(self.folder),
                    "EDGESYNC_LISTEN_ADDRESS": address, "DJANGO_SUPERUSER_PASSWORD": "Edge-admin-1"}

    def manage(self, *args, check=True):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def install(self):
        """Edge setup, an administrator, and the receive connector bound to this test's loopback address."""
        self.manage("migrate", "--noinput", "-v0")
        print(self.manage("install_server", self.name, "--role", "Edge", "--fqdn", self.fqdn,
                          "--smtp-port", str(self.smtp_port), "--edgesync-port", str(self.edgesync_port)).stdout)
        self.manage("createsuperuser", "--noinput", "--username", "edgeadmin", "--email", "admin@contoso.com")
        self.ems(f'Set-ReceiveConnector "Default internal receive connector {self.name}" '
                 f'-Bindings {self.address}:{self.smtp_port} -TarpitInterval 00:00:00')
        return self

    def ems(self, command, check=True):
        """What the Edge's shell prints for `command` (stdout and stderr)."""
        result = self.manage("ems", "--user", "edgeadmin", "-c", command, check=False)
        output = result.stdout + result.stderr
        if check and result.returncode:
            raise AssertionError(f"{command}:\n{output}")
        return output

    def file(self, written):
        """The local file of a path the Edge's shell wrote (C:\\x.xml -> <Files>/C/x.xml)."""
        return self.folder / "Files" / written[0] / written[3:].replace("\\", "/")

    def start(self, timeout=60):
        with open(self.folder / "worker.log", "ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "manage.py", "transport", "--server", self.name, "--loglevel", "INFO"], cwd=ROOT,
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise AssertionError(f"the Edge's worker exited:\n{self.log()[-3000:]}")
            try:
                with smtplib.SMTP(self.address, self.smtp_port, timeout=5):
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the Edge's worker didn't listen within {timeout}s:\n{self.log()[-3000:]}")

    def log(self):
        path = self.folder / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        if self.worker and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(15)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def remove(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
