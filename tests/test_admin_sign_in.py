"""Signing in: throttling against password guessing, no open redirects, session and security settings."""
import http.client
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import override_settings

PASSWORD = "Corr3ct-Horse!"
WRONG = "Your user name or password is incorrect."
LOCKED = "Too many failed sign-in attempts for this user name from your address. Try again in 15 minutes."


@pytest.fixture
def olga(db):
    return get_user_model().objects.create_superuser("olga", password=PASSWORD)


def sign_in(client, password, username="olga", **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def test_it_refuses_a_wrong_password(client, olga):
    response = sign_in(client, "guess")
    assert response.status_code == 200
    assert "Your user name or password is incorrect." in response.content.decode()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_stops_accepting_attempts_after_repeated_failures(client, olga):
    assert [WRONG in sign_in(client, "guess").content.decode() for _ in range(3)] == [True] * 3
    response = sign_in(client, PASSWORD)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert 'value="olga"' in response.content.decode()      # the sign-in page again, with the name typed
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_forgets_failures_after_a_right_password(client, olga):
    sign_in(client, "guess")
    sign_in(client, "guess")
    assert sign_in(client, PASSWORD).status_code == 302
    client.post("/logout/")
    sign_in(client, "guess")
    sign_in(client, "guess")
    assert sign_in(client, PASSWORD).status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failures_for_one_user_do_not_lock_out_another(client, olga):
    get_user_model().objects.create_superuser("victor", password=PASSWORD)
    for _ in range(3):
        sign_in(client, "guess")
    assert sign_in(client, PASSWORD, username="victor").status_code == 302


@pytest.mark.parametrize("target, landing", [
    ("https://evil.example/phish", "/"), ("//evil.example/", "/"), ("/console/toolbox/", "/console/toolbox/"),
])
def test_it_never_redirects_off_site_after_sign_in(client, olga, target, landing):
    response = sign_in(client, PASSWORD, next=target)
    assert response.status_code == 302 and response.url == landing


def test_sign_out_is_a_post(client, olga):
    client.force_login(olga)
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert "_auth_user_id" not in client.session


def test_pages_carry_security_headers(client, olga):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_sign_in_form_is_csrf_protected(olga):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "olga", "password": PASSWORD}).status_code == 403


def test_production_settings_secure_cookies_and_hsts(tmp_path):
    from tests.test_foundation import run_settings_value

    assert run_settings_value(tmp_path, "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS") == \
        "(True, True, 31536000)"
    assert run_settings_value(tmp_path, "s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS", DEBUG="true") == "(False, 0)"


def test_a_session_expires_after_its_age_and_when_the_browser_closes(client, olga, settings):
    assert sign_in(client, PASSWORD).status_code == 302
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 8 * 3600
    assert client.session.get_expire_at_browser_close()


class CountingHasher(MD5PasswordHasher):
    """The test suite's hasher, counting the passwords it checks (the live server runs in this process)."""
    checked = []

    def verify(self, password, encoded):
        self.checked.append(password)
        return super().verify(password, encoded)


class Browser:
    """A client of the live server on a loopback address of its own (what REMOTE_ADDR then says)."""

    def __init__(self, live_server, address):
        self.port = int(live_server.url.rsplit(":", 1)[1])
        self.address = address
        status, headers, _ = self.request("GET", "/login/")
        self.csrf = re.search(r"csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)

    def connect(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60, source_address=(self.address, 0))
        connection.connect()
        return connection

    def request(self, method, path, body=None, headers=None, connection=None):
        connection = connection or self.connect()
        try:
            connection.request(method, path, body, headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode()
        finally:
            connection.close()

    def sign_in(self, password, username="olga", connection=None):
        status, _, page = self.request(
            "POST", "/login/", urlencode({"username": username, "password": password, "csrfmiddlewaretoken": self.csrf}),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={self.csrf}"}, connection)
        return status, page


@pytest.fixture
def live_olga(transactional_db):
    return get_user_model().objects.create_superuser("olga", password=PASSWORD)


def test_it_evaluates_no_more_passwords_than_the_limit_however_many_arrive_at_once(live_server, live_olga, settings):
    settings.PASSWORD_HASHERS = ["tests.test_admin_sign_in.CountingHasher"]
    CountingHasher.checked.clear()
    guesser = Browser(live_server, "127.0.0.1")
    # Connected first, one after another (the test server accepts only a few connections at a time), then the
    # 40 requests are sent together.
    connections = [guesser.connect() for _ in range(40)]
    start = threading.Barrier(40)

    def guess(number):
        start.wait()
        return guesser.sign_in(f"guess-{number}", connection=connections[number])

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(guess, range(40)))
    evaluated = [status for status, page in answers if status == 200 and WRONG in page]
    refused = [status for status, page in answers if status == 429 and LOCKED in page]
    assert (len(evaluated), len(refused)) == (settings.AXES_FAILURE_LIMIT, 40 - settings.AXES_FAILURE_LIMIT)
    assert len(CountingHasher.checked) == settings.AXES_FAILURE_LIMIT

    # Locked for this name from this address, even with the right password; not from another address.
    assert guesser.sign_in(PASSWORD)[0] == 429
    assert Browser(live_server, "127.0.0.2").sign_in(PASSWORD)[0] == 302
