"""What Exchange setup does, as the commands an administrator runs once: `manage.py install_organization` and
`manage.py install_server`; run again with the same values they change nothing. `manage.py seed_demo` (make
run) installs through them."""
import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.organization import setup
from exchange_console.organization.models import (
    AcceptedDomain, Organization, RemoteDomain, Site, TransportConfig, TransportServer,
)
from tests.deploy_helpers import production_environment, run

EDGE_REFUSED = ("CommandError: --role Edge: this database holds the organization 'First Organization'. An Edge "
                "Transport server has a database of its own: set DATABASE_URL and EXCHANGE_DATA_DIR to the Edge's "
                "before installing it.\n")
INSTALLED_HUB02 = ("Installed the Hub Transport server HUB02 (hub02.contoso.com) in the site Default-First-Site-Name, "
                   "with the receive connectors Default HUB02 on 0.0.0.0:2025, Client HUB02 on 0.0.0.0:2587 and a "
                   "self-signed certificate for SMTP.\n")


def install(command, *args, **options):
    """A command's output, as an administrator sees it."""
    out = io.StringIO()
    call_command(command, *args, stdout=out, **options)
    return out.getvalue()


def install_hub02(**options):
    return install("install_server", "HUB02", **{"role": "Hub", "fqdn": "hub02.contoso.com", "smtp_port": 2025,
                                                  "submission_port": 2587, **options})


def everything():
    """What the organization holds, to compare before and after a command."""
    return [list(model.objects.values_list("pk", "version")) for model in (
        Organization, TransportConfig, Site, RemoteDomain, AcceptedDomain, TransportServer, ReceiveConnector)]


def manage(data_dir, *args):
    """`manage.py ARGS` as the image runs it, on an installation of its own in data_dir."""
    return run(["python", "manage.py", *args], production_environment(data_dir))


@pytest.fixture(scope="module")
def installed_organization(tmp_path_factory):
    """A data folder (and SQLite database) with the organization installed by `manage.py install_organization`."""
    data_dir = tmp_path_factory.mktemp("organization")
    for command in (["migrate", "-v", "0"], ["install_organization", "--accepted-domain", "contoso.com"]):
        result = manage(data_dir, *command)
        assert result.returncode == 0, result.stderr
    return data_dir


# --- install_organization ---------------------------------------------------------------------------------

def test_it_installs_the_organization_as_exchange_setup_does(db):
    output = install("install_organization", name="Contoso Ltd", site="London", accepted_domain="contoso.com")

    assert output == ("Installed the organization Contoso Ltd: site London, accepted domain contoso.com "
                      "(authoritative, default).\n")
    organization = Organization.objects.get()
    assert organization.name == "Contoso Ltd"
    assert TransportConfig.objects.get().organization == organization
    assert list(Site.objects.values_list("name", flat=True)) == ["London"]
    assert list(RemoteDomain.objects.values_list("name", "domain_name")) == [("Default", "*")]
    assert list(AcceptedDomain.objects.values_list("domain_name", "domain_type", "default")) == [
        ("contoso.com", "Authoritative", True)]


def test_it_names_exchange_setups_defaults_for_the_organization_and_its_site(db):
    install("install_organization", accepted_domain="contoso.com")

    assert Organization.objects.get().name == "First Organization"
    assert Site.objects.get().name == "Default-First-Site-Name"


def test_it_changes_nothing_when_the_organization_is_installed_again(organization):
    before = everything()

    output = install("install_organization", accepted_domain="CONTOSO.com")

    assert output == "The organization First Organization is already installed; nothing changed.\n"
    assert everything() == before


@pytest.mark.parametrize("option, value, message", [
    ("name", "Fabrikam", "--name: the organization is already installed as 'First Organization'."),
    ("site", "London", "--site: the organization is already installed; it has no site 'London' (its sites: "
                       "Default-First-Site-Name)."),
    ("accepted_domain", "fabrikam.com", "--accepted-domain: the organization is already installed; 'fabrikam.com' "
                                        "isn't one of its accepted domains (add it with New-AcceptedDomain)."),
])
def test_it_refuses_to_install_the_organization_again_with_other_values(organization, option, value, message):
    before = everything()
    values = {"accepted_domain": "contoso.com", option: value}

    with pytest.raises(CommandError, match=f"^{re.escape(message)}$"):
        install("install_organization", **values)
    assert everything() == before


@pytest.mark.parametrize("values, message", [
    ({"name": " Contoso"}, "--name: ' Contoso' isn't an organization name: up to 64 letters, digits, spaces and "
                           "hyphens, not beginning or ending with a space."),
    ({"name": "Contoso & Co"}, "--name: 'Contoso & Co' isn't an organization name"),
    ({"name": "C" * 65}, "--name: 'C" + "C" * 64 + "' isn't an organization name"),
    ({"site": "S" * 65}, "Name: "),
    ({"accepted_domain": "contoso com"}, "DomainName: 'contoso com' is not a valid domain name"),
])
def test_it_refuses_a_bad_value_and_leaves_nothing_of_the_organization_behind(db, values, message):
    with pytest.raises(CommandError, match=f"^{re.escape(message)}"):
        install("install_organization", **{"accepted_domain": "contoso.com", **values})
    assert everything() == [[]] * 7


# --- install_server -----------------------------------------------------------------------------------------

def test_it_installs_a_hub_with_setups_two_receive_connectors_and_a_self_signed_certificate(organization):
    assert install_hub02() == INSTALLED_HUB02

    server = TransportServer.objects.get(name="HUB02")
    assert (server.fqdn, server.role, server.site.name) == ("hub02.contoso.com", "HubTransport",
                                                            "Default-First-Site-Name")
    connectors = {connector.name: connector for connector in server.receive_connectors.all()}
    assert sorted(connectors) == ["Client HUB02", "Default HUB02"]
    assert connectors["Default HUB02"].bindings == ["0.0.0.0:2025"]
    assert connectors["Default HUB02"].permission_groups == ["ExchangeUsers", "ExchangeServers",
                                                             "ExchangeLegacyServers"]
    assert connectors["Client HUB02"].bindings == ["0.0.0.0:2587"]
    assert connectors["Client HUB02"].permission_groups == ["ExchangeUsers"]
    certificate = server.certificates.get()
    assert (certificate.subject, certificate.is_self_signed, certificate.services) == ("CN=HUB02", True, "SMTP")


def test_it_binds_ports_25_and_587_unless_told_otherwise(organization):
    install("install_server", "HUB02", role="Hub", fqdn="hub02.contoso.com")

    assert sorted(ReceiveConnector.objects.values_list("name", "bindings")) == [
        ("Client HUB02", ["0.0.0.0:587"]), ("Default HUB02", ["0.0.0.0:25"])]


@pytest.mark.parametrize("role", ["Hub", "hub", "HubTransport", "HUBTRANSPORT"])
def test_it_takes_the_hub_role_by_either_name_in_any_case(organization, role):
    install("install_server", "HUB02", role=role, fqdn="hub02.contoso.com")

    assert TransportServer.objects.get(name="HUB02").role == "HubTransport"


def test_it_changes_nothing_when_the_server_is_installed_again(organization):
    install_hub02()
    ReceiveConnector.objects.filter(name="Client HUB02").delete()  # what the administrator did since
    before = everything()

    output = install("install_server", "hub02", role="HubTransport", fqdn="HUB02.contoso.com",
                     site="Default-First-Site-Name", smtp_port=25)

    assert output == "The Hub Transport server HUB02 is already installed; nothing changed.\n"
    assert everything() == before


@pytest.mark.parametrize("option, value, message", [
    ("fqdn", "mail.contoso.com", "--fqdn: the server HUB02 is already installed with the FQDN hub02.contoso.com."),
    ("site", "London", "--site: the server HUB02 is already installed in the site Default-First-Site-Name."),
])
def test_it_refuses_to_install_a_server_again_with_another_fqdn_or_site(organization, option, value, message):
    install_hub02()
    Site.objects.create(name="London")
    before = everything()

    with pytest.raises(CommandError, match=f"^{re.escape(message)}$"):
        install_hub02(**{option: value})
    assert everything() == before


def test_it_refuses_to_install_a_hub_over_an_edge_server_of_that_name(organization):
    setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")

    with pytest.raises(CommandError, match=r"^--role: the server EDGE01 is already installed as an Edge "
                                           r"Transport server\.$"):
        install("install_server", "EDGE01", role="Hub", fqdn="edge01.contoso.com")


def test_it_installs_a_server_only_in_an_installed_organization(db):
    with pytest.raises(CommandError, match=r"^The organization isn't installed yet: run `manage.py "
                                           r"install_organization` first\.$"):
        install_hub02()
    assert not TransportServer.objects.exists()


def test_it_asks_for_the_site_when_the_organization_has_several(organization):
    Site.objects.create(name="London")

    with pytest.raises(CommandError, match=r"^--site: the organization has several sites "
                                           r"\(Default-First-Site-Name, London\); name the server's\.$"):
        install_hub02()
    install_hub02(site="london")
    assert TransportServer.objects.get(name="HUB02").site.name == "London"


@pytest.mark.parametrize("options, message", [
    ({"fqdn": "hub02 contoso"}, "Fqdn: 'hub02 contoso' is not a valid fully qualified domain name"),
    ({"submission_port": 65536}, "Bindings: '0.0.0.0:65536': the port must be a number from 1 to 65535"),
    ({"smtp_port": 2587}, 'The values that you specified for the Bindings and RemoteIPRanges parameters conflict '
                          'with the settings on Receive connector "HUB02\\Default HUB02".'),
    ({"site": "London"}, "Site: Site 'London' couldn't be found"),
])
def test_it_refuses_a_bad_value_and_leaves_nothing_of_the_server_behind(organization, options, message):
    before = everything()

    with pytest.raises(CommandError, match=f"^{re.escape(message)}$"):
        install_hub02(**options)
    assert everything() == before
    assert install_hub02() == INSTALLED_HUB02


# --- As an administrator runs them -------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["Edge", "edgetransport"])
def test_it_refuses_an_edge_in_the_organizations_database_in_one_line(installed_organization, role):
    result = manage(installed_organization, "install_server", "EDGE01", "--role", role, "--fqdn", "edge01.contoso.com")

    assert result.returncode == 1
    assert result.stderr == EDGE_REFUSED.replace("--role Edge", f"--role {role}")
    assert result.stdout == ""


def test_it_installs_an_edge_in_a_database_of_its_own_as_edge_setup_does(tmp_path):
    assert manage(tmp_path, "migrate", "-v", "0").returncode == 0
    installed = manage(tmp_path, "install_server", "EDGE01", "--role", "Edge", "--fqdn", "edge01.contoso.com",
                       "--smtp-port", "2525", "--edgesync-port", "50637")

    assert (installed.returncode, installed.stderr) == (0, "")
    assert installed.stdout == (
        "Installed the Edge Transport server EDGE01 (edge01.contoso.com) in a database of its own (subscribe it with "
        "New-EdgeSubscription), with the receive connectors Default internal receive connector EDGE01 on "
        "0.0.0.0:2525 and a self-signed certificate for SMTP.\n")
    again = manage(tmp_path, "install_server", "EDGE01", "--role", "Edge", "--fqdn", "edge01.contoso.com")
    assert again.stdout == "The Edge Transport server EDGE01 is already installed; nothing changed.\n"
    hub = manage(tmp_path, "install_server", "HUB01", "--role", "Hub", "--fqdn", "hub01.contoso.com")
    assert (hub.returncode, hub.stderr) == (1, "CommandError: --role Hub: this database is the Edge Transport server "
                                               "EDGE01's own; a Hub Transport server joins the organization's "
                                               "database.\n")
    second = manage(tmp_path, "install_server", "EDGE02", "--role", "Edge", "--fqdn", "edge02.contoso.com")
    assert second.returncode == 1 and "this database holds another transport server" in second.stderr


@pytest.mark.parametrize("name, arguments, error", [
    ("HUB05", ["--role", "Mailbox", "--fqdn", "hub05.contoso.com"],
     "CommandError: --role: 'Mailbox' isn't a transport server role this command installs; use Hub or Edge.\n"),
    ("HUB06", ["--role", "Hub", "--fqdn", "hub06.contoso.com", "--smtp-port", "0"],
     "CommandError: Bindings: '0.0.0.0:0': the port must be a number from 1 to 65535\n"),
    ("HUB07", ["--role", "Hub", "--fqdn", "hub 07.contoso.com"],
     "CommandError: Fqdn: 'hub 07.contoso.com' is not a valid fully qualified domain name\n"),
])
def test_it_exits_with_the_refusal_on_stderr_and_nothing_half_installed(installed_organization, name, arguments,
                                                                        error):
    refused = manage(installed_organization, "install_server", name, *arguments)

    assert (refused.returncode, refused.stderr, refused.stdout) == (1, error, "")
    number = int(name[-2:])
    installed = manage(installed_organization, "install_server", name, "--role", "Hub", "--fqdn",
                       f"hub{number:02}.contoso.com", "--smtp-port", f"{number}025",
                       "--submission-port", f"{number}587")
    assert installed.stdout.startswith(f"Installed the Hub Transport server {name} "), installed.stderr


def test_it_exits_with_the_option_named_when_a_server_is_installed_again_differently(installed_organization):
    arguments = ["install_server", "HUB04", "--role", "Hub", "--smtp-port", "4025", "--submission-port", "4587"]
    assert manage(installed_organization, *arguments, "--fqdn", "hub04.contoso.com").returncode == 0

    again = manage(installed_organization, *arguments, "--fqdn", "mail.contoso.com")

    assert (again.returncode, again.stderr) == (
        1, "CommandError: --fqdn: the server HUB04 is already installed with the FQDN hub04.contoso.com.\n")


def test_the_demo_seed_of_make_run_still_gives_what_the_readme_shows(tmp_path):
    environment = production_environment(tmp_path, DEBUG="1")
    assert run(["python", "manage.py", "migrate", "--noinput"], environment).returncode == 0

    seeds = [run(["python", "manage.py", "seed_demo", "--server", "HUB01"], environment) for _ in range(2)]

    admin_password = (tmp_path / "demo-admin-password.txt").read_text()
    mailbox_password = (tmp_path / "demo-mailbox-password.txt").read_text()
    for seed in seeds:
        assert seed.stdout == (f"Console administrator: administrator / {admin_password}\n"
                               f"Mailbox: administrator@contoso.com / {mailbox_password}\n"
                               "Receive connectors on HUB01: 0.0.0.0:2025 (for 25), 0.0.0.0:2587 (for 587)\n")
    shell = run(["python", "manage.py", "ems", "--user", "administrator", "-c",
                 "Get-TransportServer | ft Name,Fqdn,ServerRole,Site; Get-AcceptedDomain | ft DomainName,DomainType,"
                 "Default; Get-ReceiveConnector -Server HUB01 | ft Identity,Bindings"], environment)
    assert shell.stdout.split() == [
        "Name", "Fqdn", "ServerRole", "Site", "----", "----", "----------", "----",
        "HUB01", "hub01.contoso.com", "HubTransport", "Default-First-Site-Name",
        "DomainName", "DomainType", "Default", "----------", "----------", "-------",
        "contoso.com", "Authoritative", "True",
        "Identity", "Bindings", "--------", "--------",
        "HUB01\\Client", "HUB01", "{0.0.0.0:2587}", "HUB01\\Default", "HUB01", "{0.0.0.0:2025}"]
