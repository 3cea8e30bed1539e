"""`manage.py install_server NAME --role Hub --fqdn FQDN`: what Exchange setup does on a new Hub Transport
server: the server joins the organization, in a site, with the two receive connectors setup creates
(`Default NAME` for SMTP, `Client NAME` for submission) and a self-signed certificate for SMTP. Safe to run
again with the same values: an installed server is left as it is."""
from django.core.management.base import BaseCommand, CommandError

from exchange_console.organization import setup
from exchange_console.organization.models import Organization, Site, TransportServer
from exchange_console.services import ConfigurationError

HUB_ROLES = ("hub", "hubtransport")
EDGE_ROLES = ("edge", "edgetransport")


class Command(BaseCommand):
    help = "Install a Hub Transport server in the organization, with its receive connectors (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the server's name, e.g. HUB01")
        parser.add_argument("--role", required=True, help="Hub (or HubTransport)")
        parser.add_argument("--fqdn", required=True, help="its fully qualified domain name")
        parser.add_argument("--site", help="its site (default: the organization's site, when it has one)")
        parser.add_argument("--smtp-port", type=int, default=25, help="the port of Default NAME (default 25)")
        parser.add_argument("--submission-port", type=int, default=587,
                            help="the port of Client NAME (default 587)")

    def handle(self, *args, name, role, fqdn, site, smtp_port, submission_port, **options):
        _check_hub_role(role)
        if not Organization.objects.exists():
            raise CommandError("The organization isn't installed yet: run `manage.py install_organization` first.")
        installed = TransportServer.objects.filter(name__iexact=name).select_related("site").first()
        if installed is not None:
            _check_installed_as(installed, fqdn, site)
            if options["verbosity"]:
                self.stdout.write(f"The Hub Transport server {installed.name} is already installed; nothing changed.")
            return
        try:  # one transaction (setup's): a refused value leaves nothing of the server behind
            server = setup.install_transport_server(name, fqdn, site or _only_site(), smtp_port=smtp_port,
                                                    submission_port=submission_port)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"]:
            self.stdout.write(_installed(server))


def _check_hub_role(role):
    if role.lower() in EDGE_ROLES:
        raise CommandError(f"--role {role}: an Edge Transport server is installed on its own machine, outside the "
                           "organization, and that isn't available in this version yet.")
    if role.lower() not in HUB_ROLES:
        raise CommandError(f"--role: '{role}' isn't a transport server role this command installs; use Hub.")


def _only_site():
    sites = list(Site.objects.values_list("name", flat=True))
    if len(sites) != 1:
        raise CommandError(f"--site: the organization has several sites ({', '.join(sites)}); name the server's.")
    return sites[0]


def _check_installed_as(server, fqdn, site):
    """Setup doesn't change an installed server (Set-TransportServer does): other values are a mistake."""
    if server.role != TransportServer.HUB:
        raise CommandError(f"--role: the server {server.name} is already installed as an Edge Transport server.")
    if server.fqdn.lower() != fqdn.lower():
        raise CommandError(f"--fqdn: the server {server.name} is already installed with the FQDN {server.fqdn}.")
    if site and server.site.name.lower() != site.lower():
        raise CommandError(f"--site: the server {server.name} is already installed in the site {server.site.name}.")


def _installed(server):
    connectors = ", ".join(f"{connector.name} on {', '.join(connector.bindings)}"
                           for connector in server.receive_connectors.order_by("pk"))
    return (f"Installed the Hub Transport server {server.name} ({server.fqdn}) in the site {server.site.name}, "
            f"with the receive connectors {connectors} and a self-signed certificate for SMTP.")
