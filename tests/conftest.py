"""Shared fixtures: an installed organization with one Hub server, as Exchange setup leaves it."""
import os

import pytest

from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer


@pytest.fixture
def organization(db):
    """First Organization, site Default-First-Site-Name, accepted domain contoso.com (default)."""
    org = setup.install_organization("First Organization", "Default-First-Site-Name")
    setup.ensure_accepted_domain("contoso.com")
    return org


@pytest.fixture
def hub(organization):
    """HUB01 with its two install-default receive connectors on unprivileged ports."""
    return setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name",
                                          smtp_port=2025, submission_port=2587)


@pytest.fixture
def second_hub(hub):
    return setup.install_transport_server("HUB02", "hub02.contoso.com", "Default-First-Site-Name",
                                          smtp_port=3025, submission_port=3587)


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def transport_server_names():
    return [server.name for server in TransportServer.objects.all()]
