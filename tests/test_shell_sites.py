"""Get-/Set-AdSite and Get-/Set-AdSiteLink as in Exchange 2010's reference, with this product's New-AdSite,
New-AdSiteLink and Remove-AdSiteLink (Active Directory makes sites and links in Exchange); errors name the
parameter and change nothing."""
import pytest

from exchange_console.organization.models import AdSiteLink, Site
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems, lines, shell_lines
from tests.test_config_write_path import drain, queues  # noqa: F401  the fixture

MB = 1024 * 1024


def error_of(text):
    with pytest.raises(ShellError) as raised:
        ems(text)
    return raised.value.message


def test_the_organization_starts_with_its_site_on_active_directorys_default_site_link(hub):
    assert shell_lines("Get-AdSite") == ["Name                    HubSiteEnabled", "----                    --------------",
                                         "Default-First-Site-Name False"]
    assert lines(ems("Get-AdSiteLink")) == [
        "Name              Cost ADCost ExchangeCost MaxMessageSize Sites",
        "----              ---- ------ ------------ -------------- -----",
        "DEFAULTIPSITELINK 100  100                 Unlimited      {Default-First-Site-Name}"]


def test_it_sets_an_exchange_cost_and_size_as_the_set_adsitelink_example_does(hub):
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 25 -MaxMessageSize 10MB")
    link = AdSiteLink.objects.get()
    assert (link.cost, link.ad_cost, link.exchange_cost, link.max_message_size) == (25, 100, 25, 10 * MB)
    assert shell_lines("Get-AdSiteLink DEFAULTIPSITELINK | fl Cost,ADCost,ExchangeCost,MaxMessageSize") == [
        "Cost           : 25", "ADCost         : 100", "ExchangeCost   : 25",
        "MaxMessageSize : 10 MB (10,485,760 bytes)"]


def test_a_null_exchange_cost_reverts_to_the_active_directory_cost(hub):
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 25 -MaxMessageSize 10MB")
    ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost $null -MaxMessageSize unlimited")
    link = AdSiteLink.objects.get()
    assert (link.cost, link.exchange_cost, link.max_message_size) == (100, None, None)


def test_it_makes_a_site_a_hub_site(hub):
    ems("Set-AdSite Default-First-Site-Name -HubSiteEnabled $true")
    assert Site.objects.get().hub_site_enabled is True
    assert shell_lines("Get-AdSite | fl Name,HubSiteEnabled,SiteLinks") == [
        "Name           : Default-First-Site-Name", "HubSiteEnabled : True", "SiteLinks      : {DEFAULTIPSITELINK}"]


def test_a_new_site_joins_the_default_site_link_unless_its_links_are_named(hub):
    ems("New-AdSite London")
    ems("New-AdSite Paris -SiteLinks $null")
    ems("New-AdSiteLink London-Paris -Sites London,Paris -ADCost 10")
    assert shell_lines("Get-AdSiteLink | ft Name,Cost,Sites -AutoSize") == [
        "Name              Cost Sites", "----              ---- -----",
        "DEFAULTIPSITELINK 100  {Default-First-Site-Name, London}", "London-Paris      10   {London, Paris}"]
    ems("Remove-AdSiteLink London-Paris -Confirm:$false")
    assert list(AdSiteLink.objects.values_list("name", flat=True)) == ["DEFAULTIPSITELINK"]


@pytest.mark.parametrize("command, message", [
    ("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 0", "ExchangeCost: 0 is outside the range 1 to 2147483647"),
    ("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost cheap", "ExchangeCost: 'cheap' is not a whole number"),
    ("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 25 -MaxMessageSize 1KB", "MaxMessageSize: 1 KB (1,024 bytes) "
     "is outside the range 64 KB (65,536 bytes) to 8388608 TB (9,223,372,036,854,775,807 bytes)"),
    # What Active Directory owns isn't changed with Exchange's Set- cmdlets.
    ("Set-AdSiteLink DEFAULTIPSITELINK -ADCost 5", "A parameter cannot be found that matches parameter name 'ADCost'."),
    ("Set-AdSite Default-First-Site-Name -Name Main",
     "A parameter cannot be found that matches parameter name 'Name'."),
    ("Set-AdSite Default-First-Site-Name -HubSiteEnabled maybe",
     "HubSiteEnabled: 'maybe' is not a Boolean; use $true or $false"),
    ("Set-AdSite Nowhere -HubSiteEnabled $true",
     "The operation couldn't be performed because object 'Nowhere' couldn't be found on 'this organization'."),
    ("New-AdSiteLink Bridge -Sites Nowhere", "Sites: Site 'Nowhere' couldn't be found"),
    ("New-AdSiteLink Bridge -Sites $null", "Sites: a site link joins at least one site."),
    ("New-AdSiteLink DEFAULTIPSITELINK -Sites Default-First-Site-Name",
     "Name: an object with the name 'DEFAULTIPSITELINK' already exists."),
    ("New-AdSite London -SiteLinks Nowhere", "SiteLinks: Site link 'Nowhere' couldn't be found"),
    ("New-AdSite Default-First-Site-Name", "Name: an object with the name 'Default-First-Site-Name' already exists."),
])
def test_it_refuses_bad_values_naming_the_parameter_and_changes_nothing(hub, command, message):
    assert error_of(command) == message
    link = AdSiteLink.objects.get()
    assert (link.exchange_cost, link.max_message_size, link.version) == (None, None, 1)
    assert list(Site.objects.values_list("name", "hub_site_enabled")) == [("Default-First-Site-Name", False)]


def test_a_site_link_change_reaches_every_server(queues, django_capture_on_commit_callbacks):
    """Every server's routing reads the links: each worker is told to reload."""
    with django_capture_on_commit_callbacks(execute=True):
        ems("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 10")
    assert [drain(server) for server in queues] == [[("transport.tasks.reload_configuration", [server.name])]
                                                    for server in queues]
