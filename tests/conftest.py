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


@pytest.fixture
def olga(django_user_model, hub):
    """An administrator in Organization Management (a persona several test modules share)."""
    from exchange_console.accounts.models import RoleGroup, RoleGroupMember

    user = django_user_model.objects.create_user("olga", password="Corr3ct-Horse!")
    RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(RoleGroup.ORGANIZATION_MANAGEMENT))
    return user


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def transport_server_names():
    return [server.name for server in TransportServer.objects.all()]


@pytest.fixture(scope="session", autouse=True)
def _disconnect_workers_at_the_end(django_db_setup, django_db_blocker):
    """Transport workers and shells that tests start are other processes with their own connections; one still
    closing when the run ends must not stop PostgreSQL from dropping the test database."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
