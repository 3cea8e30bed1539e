"""Signing in: throttling against password guessing, no open redirects, session and security settings."""
import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def olga(db):
    return get_user_model().objects.create_superuser("olga", password=PASSWORD)


def sign_in(client, password, username="olga", **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def test_it_refuses_a_wrong_password(client, olga):
    response = sign_in(client, "guess")
    assert response.status_code == 200
    assert "Your user name or password is incorrect." in response.content.decode()


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_it_stops_accepting_attempts_after_repeated_failures(client, olga):
    for _ in range(3):
        sign_in(client, "guess")
    response = sign_in(client, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
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
