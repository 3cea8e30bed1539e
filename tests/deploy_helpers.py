"""The production set-up without Docker: the image's commands (Dockerfile) and the services' commands and
environment (docker-compose.yml), run on this machine with this checkout, a data folder of the test's own and
the embedded database and broker in place of PostgreSQL and Redis unless a test says otherwise."""
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_HOST = "console.contoso.com"
# What an administrator puts in .env for docker compose.
COMPOSE_VARIABLES = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": CONSOLE_HOST,
                     "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
                     "EXCHANGE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                     "EXCHANGE_ACCEPTED_DOMAIN": "contoso.com", "EXCHANGE_SERVER_FQDN": "hub01.contoso.com"}
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:[-?])([^}]*))?\}")


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_instructions():
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def image_command():
    """The image's default command (CMD, exec form)."""
    return json.loads([arguments for instruction, arguments in dockerfile_instructions() if instruction == "CMD"][-1])


def interpolate(value, variables):
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error} (an unset or empty NAME is an error), and $$ for
    a $ left to the container's shell."""
    def substitute(match):
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise ValueError(f"{name}: {argument}")
        return argument if operator == ":-" else ""
    return _VARIABLE.sub(substitute, value)


def production_environment(data_dir, service=None, **overrides):
    """The environment compose gives the image's services (or that one service), with this machine's folders,
    database and broker."""
    declared = compose()["services"][service] if service else compose()["x-app"]
    environment = {name: interpolate(str(value), COMPOSE_VARIABLES) for name, value in declared["environment"].items()}
    environment.update(
        DJANGO_SETTINGS_MODULE="exchange_console.settings",  # the image's ENV
        EXCHANGE_DATA_DIR=str(data_dir), STATIC_ROOT=str(data_dir / "staticfiles"),
        DATABASE_URL=f"sqlite:///{data_dir / 'exchange.sqlite3'}", CELERY_BROKER_URL="filesystem://localhost/")
    environment.update(overrides)
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "LANG": "C.UTF-8",
            **environment}


def run(command, environment, timeout=180):
    """Run one of the image's commands from the checkout, as the image does from /app."""
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout)


def service_command(service):
    """A service's command as compose passes it to the container."""
    return [interpolate(part, COMPOSE_VARIABLES) for part in compose()["services"][service]["command"]]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def closed_port():
    """A loopback port where nothing listens (bound, so nobody else takes it meanwhile): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def serving_console(environment, log_path):
    """The image's command (gunicorn) on a free loopback port instead of 0.0.0.0:8000; yields the port."""
    command, port = image_command(), free_port()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_answering(process, port, log_path)
        yield port
    finally:
        process.terminate()
        process.wait(15)


def _wait_until_answering(process, port, log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{Path(log_path).read_text()[-3000:]}")
        try:
            get(port, "/healthz")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gunicorn didn't answer within {timeout}s:\n{Path(log_path).read_text()[-3000:]}")


def get(port, path, headers=None, method="GET", body=None):
    """One HTTP request; (status, headers (an email.message.Message: any case, get_all), body bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def through_proxy(**headers):
    """What the TLS-terminating reverse proxy sends along: the console's host name and the original scheme."""
    return {"Host": CONSOLE_HOST, "X-Forwarded-Proto": "https", **headers}
