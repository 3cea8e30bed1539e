"""`manage.py install_organization`: what Exchange setup does once for a new organization: the organization
with its transport settings, its first site, the Default remote domain (*) and the first accepted domain
(authoritative, the default). Safe to run again with the same values; other values are refused."""
import re

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from exchange_console.organization import setup
from exchange_console.organization.models import AcceptedDomain, Organization, Site
from exchange_console.services import ConfigurationError

# Exchange setup's rule for the organization name: letters, digits, spaces and hyphens, 64 at most.
ORGANIZATION_NAME = re.compile(r"[A-Za-z0-9-](?:[A-Za-z0-9 -]{0,62}[A-Za-z0-9-])?")


class Command(BaseCommand):
    help = "Install the organization, its site and its first accepted domain (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="First Organization", help="the organization's name")
        parser.add_argument("--site", default="Default-First-Site-Name", help="its first site")
        parser.add_argument("--accepted-domain", required=True,
                            help="its first authoritative accepted domain, the default one (e.g. contoso.com)")

    @transaction.atomic
    def handle(self, *args, name, site, accepted_domain, **options):
        installed = Organization.objects.first()
        if installed is not None:
            _check_installed_as(installed, name, site, accepted_domain)
            if options["verbosity"]:
                self.stdout.write(f"The organization {installed.name} is already installed; nothing changed.")
            return
        if not ORGANIZATION_NAME.fullmatch(name):
            raise CommandError(f"--name: '{name}' isn't an organization name: up to 64 letters, digits, spaces "
                               "and hyphens, not beginning or ending with a space.")
        try:
            setup.install_organization(name, site)
            setup.ensure_accepted_domain(accepted_domain)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"]:
            self.stdout.write(f"Installed the organization {name}: site {site}, accepted domain "
                              f"{AcceptedDomain.objects.get().domain_name} (authoritative, default).")


def _check_installed_as(organization, name, site, accepted_domain):
    """A run again names what is installed: setup doesn't rename, and adds no second site or domain."""
    if organization.name != name:
        raise CommandError(f"--name: the organization is already installed as '{organization.name}'.")
    if not Site.objects.filter(name__iexact=site).exists():
        raise CommandError(f"--site: the organization is already installed; it has no site '{site}' "
                           f"(its sites: {', '.join(Site.objects.values_list('name', flat=True))}).")
    if not AcceptedDomain.objects.filter(domain_name__iexact=accepted_domain).exists():
        raise CommandError(f"--accepted-domain: the organization is already installed; '{accepted_domain}' isn't "
                           "one of its accepted domains (add it with New-AcceptedDomain).")
