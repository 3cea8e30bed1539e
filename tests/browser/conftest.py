"""The console in Debian's Chromium, driven by Playwright against pytest-django's live server."""
import os
import socket

import pytest
from pytest_django.live_server_helper import LiveServer

# Playwright's sync API runs an event loop in this thread; the test still reads the database synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CONSOLE_PORTS = range(8100, 8200)  # the loopback ports this part of the test suite may use
TIMEOUT_MS = 20_000  # generous: CI machines run other suites' servers and workers alongside


def free_port():
    for port in CONSOLE_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8100-8199 on 127.0.0.1")


@pytest.fixture(scope="session")
def live_server():
    server = LiveServer(f"127.0.0.1:{free_port()}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in(chromium, live_server):
    """A browser context and its tab, signed in as pytest-django's admin_user, at the console."""
    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto("/")
    page.get_by_label("User name:").fill("admin")
    page.get_by_label("Password:").fill("password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/organization/hub-transport/send-connectors/")
    return context, page


@pytest.fixture
def console(chromium, live_server, admin_user, hub):
    """A signed-in administrator's browser tab at the console."""
    context, page = signed_in(chromium, live_server)
    yield page
    context.close()
