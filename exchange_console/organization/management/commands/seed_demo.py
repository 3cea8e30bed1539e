"""`manage.py seed_demo`: a small organization to try the console with. Idempotent; prints the admin login."""
import secrets as random_secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from django.conf import settings
from exchange_console.organization import setup

DEMO_SERVER, DEMO_DOMAIN, ADMIN_USER = "HUB01", "contoso.com", "administrator"


class Command(BaseCommand):
    help = "Create the demo organization (idempotent) and print the administrator's credentials."

    def add_arguments(self, parser):
        parser.add_argument("--server", default=DEMO_SERVER)
        parser.add_argument("--fqdn", default="hub01.contoso.com")
        parser.add_argument("--smtp-port", type=int, default=2025, help="stands in for port 25")
        parser.add_argument("--submission-port", type=int, default=2587, help="stands in for port 587")

    @transaction.atomic
    def handle(self, *args, server, fqdn, smtp_port, submission_port, **options):
        # What an administrator installs (install_organization, install_server), then the demo's own.
        call_command("install_organization", accepted_domain=DEMO_DOMAIN, verbosity=0)
        call_command("install_server", server, role="Hub", fqdn=fqdn, smtp_port=smtp_port,
                     submission_port=submission_port, verbosity=0)
        setup.ensure_mailbox("Administrator", f"administrator@{DEMO_DOMAIN}", self._password("mailbox"))
        password = self._password("admin")
        user, created = get_user_model().objects.get_or_create(
            username=ADMIN_USER, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(password)
            user.save()
        self.stdout.write(f"Console administrator: {ADMIN_USER} / {password}")
        self.stdout.write(f"Mailbox: administrator@{DEMO_DOMAIN} / {self._password('mailbox')}")
        self.stdout.write(f"Receive connectors on {server}: 0.0.0.0:{smtp_port} (for 25), "
                          f"0.0.0.0:{submission_port} (for 587)")

    def _password(self, kind):
        """A random password made once and kept in the data dir, so reruns print the same one."""
        path = settings.EXCHANGE_DATA_DIR / f"demo-{kind}-password.txt"
        if not path.exists():
            path.write_text(random_secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()
