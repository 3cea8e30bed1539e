"""New-EdgeSubscription's refusals in the organization and on an Edge, through the shell: each names its parameter
and leaves nothing behind."""
from datetime import timedelta

import pytest
import trustme
from django.utils import timezone

from exchange_console.edge.models import EdgeSubscription, EdgeSyncServiceConfig
from exchange_console.edge.subscription_file import SubscriptionFile
from exchange_console.organization import setup
from exchange_console.organization.models import TransportServer
from exchange_console.shell import files
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems

SITE = "Default-First-Site-Name"
IMPORT = ('New-EdgeSubscription -FileData ([byte[]]$(Get-Content -Path "C:\\EdgeSubscriptionInfo.xml" -Encoding Byte '
          '-ReadCount 0)) -Site "{site}"')


@pytest.fixture
def organization(db, settings, tmp_path):
    settings.EMS_FILE_ROOT = tmp_path
    setup.install_organization("Contoso", SITE)
    setup.ensure_accepted_domain("contoso.com")
    setup.install_transport_server("HUB01", "hub01.contoso.com", SITE)
    return tmp_path


def subscription_file(effective=None, name="EDGE01"):
    certificate = trustme.CA().issue_cert(f"{name.lower()}.contoso.com").cert_chain_pems[0].bytes().decode()
    return SubscriptionFile(edge_name=name, edge_fqdn=f"{name.lower()}.contoso.com", certificate_pem=certificate,
                            account="ESRA.EDGE01.1", password="secret", effective=effective or timezone.now(),
                            duration=timedelta(minutes=1440), edgesync_port=50636, smtp_port=25)


def refusal(command):
    """The error the shell stops with."""
    with pytest.raises(ShellError) as caught:
        ems(command)
    return str(caught.value)


def write(data):
    files.write("C:\\EdgeSubscriptionInfo.xml", data)


def test_importing_the_file_subscribes_the_edge_to_the_site(organization):
    write(subscription_file().to_xml())
    output = ems(IMPORT.format(site=SITE))
    assert "EDGE01" in output and SITE in output
    subscription = EdgeSubscription.objects.get()
    assert (subscription.server.role, subscription.server.fqdn) == (TransportServer.EDGE, "edge01.contoso.com")
    assert subscription.server.certificates.get().private_key_encrypted == ""   # trusted, never its key
    assert EdgeSyncServiceConfig.objects.filter(site__name=SITE).exists()


@pytest.mark.parametrize("data, message", [
    (b"<nothing/>", "FileData: The file isn't an Edge subscription file: its root element is <nothing>"),
    (b"not xml", "FileData: The file isn't an Edge subscription file: syntax error"),
    (b"<EdgeSubscriptionData><EdgeServerName>E</EdgeServerName></EdgeSubscriptionData>",
     "FileData: The Edge subscription file lacks EdgeServerFQDN, EdgeCertificateBlob"),
])
def test_a_file_that_isnt_a_subscription_file_is_refused_naming_filedata(organization, data, message):
    write(data)
    assert message in refusal(IMPORT.format(site=SITE))
    assert not EdgeSubscription.objects.exists() and not TransportServer.objects.filter(name="E").exists()


def test_an_expired_subscription_file_is_refused_and_nothing_is_created(organization):
    write(subscription_file(effective=timezone.now() - timedelta(minutes=1441)).to_xml())
    output = refusal(IMPORT.format(site=SITE))
    assert "FileData: the Edge subscription file of EDGE01 expired at" in output
    assert "Run New-EdgeSubscription on the Edge Transport server again" in output
    assert not EdgeSubscription.objects.exists() and not TransportServer.objects.filter(name="EDGE01").exists()


def test_an_unknown_site_is_refused_naming_site(organization):
    write(subscription_file().to_xml())
    assert "Site: the Active Directory site 'Nowhere' couldn't be found." in refusal(IMPORT.format(site="Nowhere"))
    assert not EdgeSubscription.objects.exists()


def test_an_edge_subscribed_already_must_be_removed_first(organization):
    write(subscription_file().to_xml())
    ems(IMPORT.format(site=SITE))
    assert "a server named EDGE01 is already in the organization" in refusal(IMPORT.format(site=SITE))
    assert EdgeSubscription.objects.count() == 1


def test_whatif_says_what_it_would_do_and_creates_nothing(organization):
    write(subscription_file().to_xml())
    output = ems(IMPORT.format(site=SITE) + " -WhatIf")
    assert f'What if: Creating an Edge subscription in the site "{SITE}".' in output
    assert not EdgeSubscription.objects.exists()


def test_filename_is_for_the_edge_and_filedata_for_the_organization(organization):
    assert "New-EdgeSubscription -FileName runs on an Edge Transport server" in refusal(
        'New-EdgeSubscription -FileName "C:\\x.xml" -Force')


def test_only_organization_management_starts_a_synchronization(organization):
    from django.contrib.auth import get_user_model

    from exchange_console.accounts.models import RoleGroup, RoleGroupMember

    viewer = get_user_model().objects.create_user("viewer", password="Corr3ct-Horse!")
    RoleGroupMember.objects.create(user=viewer, role_group=RoleGroup.named(RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT))
    with pytest.raises(ShellError, match="Access denied: viewer isn't allowed to run Start-EdgeSynchronization"):
        ems("Start-EdgeSynchronization", user=viewer)


def test_start_edgesynchronization_without_a_subscription_says_so(organization):
    assert "No Edge Transport server is subscribed to the organization." in refusal("Start-EdgeSynchronization")


def test_every_site_has_its_edgesync_service_settings(organization):
    from exchange_console.organization.schemas import SITE
    from exchange_console.services import new_object

    new_object(SITE, {"Name": "Branch"})
    output = " ".join(ems("Get-EdgeSyncServiceConfig").split())
    assert "EdgeSyncService Branch 00:03:00 00:05:00" in output
    assert "EdgeSyncService Default-First-Site-Name 00:03:00 00:05:00" in output


def test_a_subscribed_edge_is_managed_on_the_edge_not_in_the_organization(organization):
    write(subscription_file().to_xml())
    ems(IMPORT.format(site=SITE))
    error = refusal("Set-TransportServer EDGE01 -MessageRetryInterval 00:02:00")
    assert "EDGE01 is an Edge Transport server subscribed to the site Default-First-Site-Name. It is managed on the " \
           "Edge Transport server itself" in error
