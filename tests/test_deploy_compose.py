"""docker-compose.yml without Docker: what it declares (checked on the parsed file) and its commands and
healthchecks run on this machine with its environment."""
import secrets
import subprocess
import time

import pytest

from tests.deploy_helpers import (
    ROOT, closed_port, compose, interpolate, production_environment, run, service_command, serving_console,
)

APP_SERVICES = ["setup", "web", "beat", "transport-hub01"]


@pytest.fixture(scope="module")
def services():
    return compose()["services"]


def test_it_checks_the_health_of_every_service_that_keeps_running(services):
    long_running = [name for name, service in services.items() if service.get("restart") != "no"]

    assert sorted(long_running) == ["beat", "postgres", "redis", "transport-hub01", "web"]
    for name in long_running:
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_it_migrates_and_sets_up_once_before_the_console_beat_and_workers_start(services):
    assert services["setup"]["restart"] == "no"
    assert services["setup"]["command"][-1].startswith("python manage.py migrate --noinput && "
                                                       "python manage.py install_organization ")
    assert " && python manage.py install_server HUB01 --role Hub " in services["setup"]["command"][-1]
    for name in ["web", "beat", "transport-hub01"]:
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                "redis": {"condition": "service_healthy"},
                                                "setup": {"condition": "service_completed_successfully"}}


def test_it_runs_every_role_from_the_one_image_with_the_data_folder_on_a_volume(services):
    for name in APP_SERVICES:
        assert (services[name]["build"], services[name]["image"]) == (".", "exchange-console:latest"), name
        assert services[name]["volumes"] == ["exchange-data:/data"], name
        assert services[name]["environment"]["EXCHANGE_DATA_DIR"] == "/data", name
    assert "command" not in services["web"]  # the image's: gunicorn
    assert set(compose()["volumes"]) == {"exchange-data", "postgres-data", "redis-data"}


def test_it_publishes_smtp_and_lets_the_unprivileged_worker_bind_ports_under_1024(services):
    worker = services["transport-hub01"]

    assert worker["ports"] == ["25:25", "587:587"]
    assert worker["sysctls"] == {"net.ipv4.ip_unprivileged_port_start": 0}
    assert worker["command"] == ["python", "manage.py", "transport", "--server", "HUB01"]
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "transport_health", "--server", "HUB01"]
    assert "--smtp-port 25 --submission-port 587" in services["setup"]["command"][-1]


def test_it_publishes_the_console_only_on_loopback_for_the_reverse_proxy(services):
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["web"]["environment"]["BEHIND_TLS_PROXY"] == "true"


def test_it_takes_secrets_from_the_environment_and_refuses_to_start_without_them(services):
    environment = compose()["x-app"]["environment"]

    for name, value in [("SECRET_KEY", environment["SECRET_KEY"]), ("ALLOWED_HOSTS", environment["ALLOWED_HOSTS"]),
                        ("POSTGRES_PASSWORD", services["postgres"]["environment"]["POSTGRES_PASSWORD"])]:
        with pytest.raises(ValueError, match=f"^{name}: set {name}"):
            interpolate(value, {})
    assert interpolate(environment["DATABASE_URL"], {"POSTGRES_PASSWORD": "pw"}) == \
        "postgres://exchange:pw@postgres:5432/exchange"


def test_it_takes_the_organization_from_the_environment_and_refuses_to_set_up_without_domain_and_fqdn(services):
    environment = services["setup"]["environment"]

    for name, what in [("EXCHANGE_ACCEPTED_DOMAIN", "your e-mail domain"),
                       ("EXCHANGE_SERVER_FQDN", "HUB01's host name")]:
        with pytest.raises(ValueError, match=f"^{name}: set {name} to {what}$"):
            interpolate(environment[name], {})
    assert interpolate(environment["EXCHANGE_ORGANIZATION_NAME"], {}) == "First Organization"
    assert interpolate(environment["EXCHANGE_SITE"], {}) == "Default-First-Site-Name"


def test_it_installs_the_organization_and_hub01_and_changes_nothing_when_set_up_again(tmp_path):
    environment = production_environment(tmp_path, "setup", EXCHANGE_ORGANIZATION_NAME="Contoso Ltd",
                                         EXCHANGE_SERVER_FQDN="mail.contoso.com")

    first = run(service_command("setup"), environment)

    assert first.returncode == 0, first.stderr
    assert first.stdout.endswith(
        "Installed the organization Contoso Ltd: site Default-First-Site-Name, accepted domain contoso.com "
        "(authoritative, default).\n"
        "Installed the Hub Transport server HUB01 (mail.contoso.com) in the site Default-First-Site-Name, with the "
        "receive connectors Default HUB01 on 0.0.0.0:25, Client HUB01 on 0.0.0.0:587 and a self-signed certificate "
        "for SMTP.\n")
    again = run(service_command("setup"), environment)
    assert again.returncode == 0, again.stderr
    assert again.stdout.endswith("The organization Contoso Ltd is already installed; nothing changed.\n"
                                 "The Hub Transport server HUB01 is already installed; nothing changed.\n")
    _create_the_first_administrator(environment)
    assert _shell(environment, "Get-AcceptedDomain | ft DomainName,DomainType,Default").split() == [
        "DomainName", "DomainType", "Default", "----------", "----------", "-------",
        "contoso.com", "Authoritative", "True"]
    assert _shell(environment, "Get-ReceiveConnector -Server HUB01 | ft Identity,Bindings").split() == [
        "Identity", "Bindings", "--------", "--------",
        "HUB01\\Client", "HUB01", "{0.0.0.0:587}", "HUB01\\Default", "HUB01", "{0.0.0.0:25}"]


def _create_the_first_administrator(environment):
    """As docs/deploying.md says (createsuperuser), without its prompts."""
    created = run(["python", "manage.py", "createsuperuser", "--noinput"], {
        **environment, "DJANGO_SUPERUSER_USERNAME": "administrator",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16), "DJANGO_SUPERUSER_EMAIL": "administrator@contoso.com"})
    assert created.returncode == 0, created.stderr


def _shell(environment, command):
    """What that administrator sees in the shell."""
    shell = run(["python", "manage.py", "ems", "--user", "administrator", "-c", command], environment)
    assert shell.returncode == 0, shell.stderr
    return shell.stdout


def test_it_reports_the_console_healthy_only_while_it_is_ready(services, tmp_path):
    healthcheck = services["web"]["healthcheck"]["test"]
    with serving_console(production_environment(tmp_path), tmp_path / "gunicorn.log") as port:
        assert _run_healthcheck(healthcheck, "127.0.0.1:8000", f"127.0.0.1:{port}").returncode == 0
    with closed_port() as broker_port:
        down = production_environment(tmp_path, CELERY_BROKER_URL=f"redis://127.0.0.1:{broker_port}/0")
        with serving_console(down, tmp_path / "gunicorn-no-broker.log") as port:
            failed = _run_healthcheck(healthcheck, "127.0.0.1:8000", f"127.0.0.1:{port}")
    assert failed.returncode == 1
    assert "HTTP Error 503: Service Unavailable" in failed.stderr


def test_it_reports_beat_healthy_once_it_runs(services, tmp_path):
    healthcheck = services["beat"]["healthcheck"]["test"]
    assert _run_healthcheck(healthcheck, "/data", str(tmp_path)).returncode == 1

    beat = subprocess.Popen(services["beat"]["command"], cwd=ROOT, env=production_environment(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _run_healthcheck(healthcheck, "/data", str(tmp_path)).returncode != 0:
            assert beat.poll() is None and time.monotonic() < deadline, "beat exited or wrote no schedule"
            time.sleep(0.2)
    finally:
        beat.terminate()
        beat.wait(15)


def _run_healthcheck(test, place, here):
    """A service's healthcheck, with what is at `place` in the container found `here` on this machine (the
    environment is only for finding the venv's python)."""
    kind, *command = test
    command = [part.replace(place, here) for part in command]
    if kind == "CMD-SHELL":
        command = ["sh", "-c", *command]
    return run(command, {"PATH": production_environment(ROOT)["PATH"]}, timeout=60)
