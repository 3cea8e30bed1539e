"""`manage.py install_server NAME --role Hub|Edge --fqdn FQDN`: what Exchange setup does on a new transport server.

A Hub joins the organization in the configured database, in a site, with the two receive connectors setup creates
(`Default NAME` for SMTP, `Client NAME` for submission) and a self-signed certificate for SMTP. An Edge stands
alone: the configured database (DATABASE_URL; by default the SQLite file in its EXCHANGE_DATA_DIR) must be its own,
and setup gives it `Default internal receive connector NAME`, a self-signed certificate and an EdgeSync state that
New-EdgeSubscription fills in. Safe to run again with the same values: an installed server is left as it is."""
from django.core.management.base import BaseCommand, CommandError

from exchange_console.organization import setup
from exchange_console.organization.models import Installation, Organization, Site, TransportServer
from exchange_console.services import ConfigurationError

HUB_ROLES = ("hub", "hubtransport")
EDGE_ROLES = ("edge", "edgetransport")
DEFAULT_SITE = "Default-First-Site-Name"


class Command(BaseCommand):
    help = "Install a Hub Transport server in the organization, or an Edge Transport server in its own database."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the server's name, e.g. HUB01")
        parser.add_argument("--role", required=True, help="Hub (or HubTransport), Edge (or EdgeTransport)")
        parser.add_argument("--fqdn", required=True, help="its fully qualified domain name")
        parser.add_argument("--site", help="its site (default: the organization's site, when it has one)")
        parser.add_argument("--smtp-port", type=int, default=25,
                            help="the port of Default NAME, or of an Edge's Default internal receive connector")
        parser.add_argument("--submission-port", type=int, default=587,
                            help="the port of Client NAME (default 587; Hub only)")
        parser.add_argument("--edgesync-port", type=int, default=None,
                            help="the port the Edge's EdgeSync listener takes the Hubs' pushes on (default 50636)")

    def handle(self, *args, name, role, fqdn, site, smtp_port, submission_port, edgesync_port, **options):
        edge = _check_role(role)
        installed = TransportServer.objects.filter(name__iexact=name).select_related("site").first()
        if installed is not None and installed.runs_here:
            _check_installed_as(installed, edge, fqdn, site)
            if options["verbosity"]:
                self.stdout.write(f"The {_role_label(edge)} server {installed.name} is already installed; "
                                  "nothing changed.")
            return
        try:  # one transaction (setup's): a refused value leaves nothing of the server behind
            if edge:
                _check_edge_database(role)
                server = setup.install_edge_server(name, fqdn, site or DEFAULT_SITE, smtp_port=smtp_port,
                                                   edgesync_port=edgesync_port)
            else:
                _check_organization_database(installed)
                server = setup.install_transport_server(name, fqdn, site or _only_site(), smtp_port=smtp_port,
                                                        submission_port=submission_port)
        except ConfigurationError as error:
            raise CommandError(str(error)) from None
        if options["verbosity"]:
            self.stdout.write(_installed(server))


def _check_role(role):
    """True for an Edge, False for a Hub."""
    if role.lower() in EDGE_ROLES:
        return True
    if role.lower() not in HUB_ROLES:
        raise CommandError(f"--role: '{role}' isn't a transport server role this command installs; use Hub or Edge.")
    return False


def _role_label(edge):
    return "Edge Transport" if edge else "Hub Transport"


def _check_edge_database(role):
    """An Edge never shares the organization's database: it gets the organization's objects by EdgeSync only."""
    if Organization.objects.exists() or TransportServer.objects.local().exists():
        owner = Organization.objects.first()
        what = f"the organization '{owner.name}'" if owner else "another transport server"
        raise CommandError(f"--role {role}: this database holds {what}. An Edge Transport server has a database of "
                           "its own: set DATABASE_URL and EXCHANGE_DATA_DIR to the Edge's before installing it.")


def _check_organization_database(installed):
    if Installation.is_edge():
        edge = TransportServer.objects.local().first()
        raise CommandError(f"--role Hub: this database is the Edge Transport server {edge.name}'s own; a Hub "
                           "Transport server joins the organization's database.")
    if installed is not None:  # an Edge of the organization (subscribed) by that name
        raise CommandError(f"--role: the server {installed.name} is already installed as an Edge Transport server.")
    if not Organization.objects.exists():
        raise CommandError("The organization isn't installed yet: run `manage.py install_organization` first.")


def _only_site():
    sites = list(Site.objects.values_list("name", flat=True))
    if len(sites) != 1:
        raise CommandError(f"--site: the organization has several sites ({', '.join(sites)}); name the server's.")
    return sites[0]


def _check_installed_as(server, edge, fqdn, site):
    """Setup doesn't change an installed server (Set-TransportServer does): other values are a mistake."""
    if server.is_edge != edge:
        raise CommandError(f"--role: the server {server.name} is already installed as a "
                           f"{_role_label(server.is_edge)} server.")
    if server.fqdn.lower() != fqdn.lower():
        raise CommandError(f"--fqdn: the server {server.name} is already installed with the FQDN {server.fqdn}.")
    if site and server.site.name.lower() != site.lower():
        raise CommandError(f"--site: the server {server.name} is already installed in the site {server.site.name}.")


def _installed(server):
    connectors = ", ".join(f"{connector.name} on {', '.join(connector.bindings)}"
                           for connector in server.receive_connectors.order_by("pk"))
    where = ("in a database of its own (subscribe it with New-EdgeSubscription)" if server.is_edge
             else f"in the site {server.site.name}")
    return (f"Installed the {_role_label(server.is_edge)} server {server.name} ({server.fqdn}) {where}, "
            f"with the receive connectors {connectors} and a self-signed certificate for SMTP.")
