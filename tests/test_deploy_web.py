"""The console as the image serves it: gunicorn started with the Dockerfile's command and docker-compose.yml's
environment (DEBUG off), static files collected as the image build does and served by WhiteNoise, behind a
TLS-terminating proxy; and the probes Docker calls."""
import gzip
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import brotli
import pytest

from tests.deploy_helpers import (
    CONSOLE_HOST, ROOT, closed_port, get, production_environment, run, service_command, serving_console,
    through_proxy,
)

HASHED_CSS = re.compile(r'href="(/static/css/console\.[0-9a-f]{12}\.css)"')


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """A data folder with the static files collected, the setup service's command run (migrations, the
    organization, HUB01) and the first administrator created as docs/deploying.md says."""
    data_dir = tmp_path_factory.mktemp("installation")
    environment = production_environment(data_dir)
    collected = run(["python", "manage.py", "collectstatic", "--noinput"], environment)
    assert collected.returncode == 0, collected.stderr
    setup = run(service_command("setup"), production_environment(data_dir, "setup"))
    assert setup.returncode == 0, setup.stderr
    password = secrets.token_urlsafe(16)
    administrator = run(["python", "manage.py", "createsuperuser", "--noinput"], {
        **environment, "DJANGO_SUPERUSER_USERNAME": "administrator", "DJANGO_SUPERUSER_PASSWORD": password,
        "DJANGO_SUPERUSER_EMAIL": "administrator@contoso.com"})
    assert administrator.returncode == 0, administrator.stderr
    return data_dir, password


@pytest.fixture(scope="module")
def console(installation):
    data_dir, _ = installation
    with serving_console(production_environment(data_dir), data_dir / "gunicorn.log") as port:
        yield port


def test_it_serves_the_sign_in_page_linking_the_stylesheet_by_its_hashed_name(console):
    status, _, body = get(console, "/login/", through_proxy())

    assert status == 200
    assert HASHED_CSS.search(body.decode())
    assert re.search(r'src="/static/js/htmx\.min\.[0-9a-f]{12}\.js"', body.decode())


@pytest.mark.parametrize("encoding, decompress", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_it_serves_static_files_compressed_and_cached_for_a_year(console, encoding, decompress):
    stylesheet = HASHED_CSS.search(get(console, "/login/", through_proxy())[2].decode()).group(1)

    status, headers, body = get(console, stylesheet, through_proxy(**{"Accept-Encoding": encoding}))

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert headers["Content-Encoding"] == encoding
    assert headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert decompress(body) == (ROOT / "static/css/console.css").read_bytes()


def test_it_signs_an_administrator_in_through_the_proxy(console, installation):
    _, password = installation
    _, headers, body = get(console, "/login/", through_proxy())
    cookies = _cookies(headers)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode()).group(1)

    status, headers, _ = get(console, "/login/", through_proxy(**{
        "Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{CONSOLE_HOST}",
        "Referer": f"https://{CONSOLE_HOST}/login/", "Cookie": _cookie_header(cookies)}), method="POST",
        body=urlencode({"csrfmiddlewaretoken": token, "username": "administrator", "password": password}))

    assert status == 302, headers
    session = _cookies(headers)["sessionid"]
    assert session["secure"] and session["httponly"]
    cookies.update(_cookies(headers))
    while status == 302:  # to the console's first page, Organization Configuration > Hub Transport
        status, headers, body = get(console, headers["Location"], through_proxy(Cookie=_cookie_header(cookies)))
    assert status == 200
    assert "Send Connectors" in body.decode()
    assert HASHED_CSS.search(body.decode())


def test_it_redirects_plain_http_to_https_with_hsts_on_https(console):
    status, headers, _ = get(console, "/login/", {"Host": CONSOLE_HOST})
    assert (status, headers["Location"]) == (301, f"https://{CONSOLE_HOST}/login/")

    _, headers, _ = get(console, "/login/", through_proxy())
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_it_refuses_a_host_name_not_in_allowed_hosts(console):
    status, _, _ = get(console, "/login/", through_proxy(Host="console.fabrikam.com"))

    assert status == 400


def test_it_answers_healthz_to_a_probe_by_address_over_plain_http(console):
    status, headers, body = get(console, "/healthz", {"Host": "172.18.0.5:8000"})

    assert (status, body) == (200, b"ok\n")
    assert headers["Cache-Control"] == "no-store"


def test_it_answers_readyz_when_the_database_and_the_broker_are_reachable(console):
    status, _, body = get(console, "/readyz", {"Host": "127.0.0.1:8000"})

    assert (status, body) == (200, b"database: ok\nbroker: ok\n")


def test_it_refuses_other_methods_on_the_probes(console):
    status, headers, _ = get(console, "/readyz", {"Host": "127.0.0.1:8000"}, method="POST")

    assert (status, headers["Allow"]) == (405, "GET, HEAD")


def test_it_answers_readyz_503_naming_the_database_when_postgresql_is_down(installation):
    data_dir, _ = installation
    with closed_port() as port:
        environment = production_environment(
            data_dir, DATABASE_URL=f"postgres://exchange:secret@127.0.0.1:{port}/exchange")
        with serving_console(environment, data_dir / "gunicorn-no-database.log") as console:
            assert get(console, "/readyz")[::2] == (503, b"database: unreachable\nbroker: ok\n")
            assert get(console, "/healthz")[::2] == (200, b"ok\n")
    log = (data_dir / "gunicorn-no-database.log").read_text()
    assert f"readyz: the database is unreachable: connection failed: connection to server at \"127.0.0.1\", " \
           f"port {port} failed: Connection refused" in log
    assert "secret" not in log


def test_it_answers_readyz_503_naming_the_broker_when_redis_is_down(installation):
    data_dir, _ = installation
    with closed_port() as port:
        environment = production_environment(data_dir, CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0")
        with serving_console(environment, data_dir / "gunicorn-no-broker.log") as console:
            assert get(console, "/readyz")[::2] == (503, b"database: ok\nbroker: unreachable\n")
    assert f"readyz: the broker is unreachable: Error 111 connecting to 127.0.0.1:{port}. Connection refused." \
           in (data_dir / "gunicorn-no-broker.log").read_text()


def test_it_passes_the_deployment_checks_with_the_documented_environment(tmp_path):
    checked = run(["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                  production_environment(tmp_path))

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("System check identified no issues")


def _cookies(headers):
    cookies = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return cookies


def _cookie_header(cookies):
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())

