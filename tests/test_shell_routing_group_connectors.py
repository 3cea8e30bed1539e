"""Coexistence with Exchange 2003 from the shell: Exchange 2010's routing group, legacy routing groups and servers
(this product's New-RoutingGroup -Legacy and New-LegacyExchangeServer), mailboxes in a legacy server's database,
and New-/Get-/Set-/Remove-RoutingGroupConnector with Exchange's parameters; errors name the parameter and save
nothing."""
import pytest

from exchange_console.connectors.models import RoutingGroupConnector
from exchange_console.organization.models import LegacyExchangeServer, Mailbox
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems, shell, shell_lines

EX2010 = "Exchange Routing Group (DWBGZMFD01QNBJR)"
LONG_FORM = f"Exchange Administrative Group (FYDIBOHF23SPDLT)\\{EX2010}"
MB = 1024 * 1024


def error_of(text):
    with pytest.raises(ShellError) as raised:
        ems(text)
    return raised.value.message


@pytest.fixture
def legacy(hub):
    """First Routing Group with EX2003 and EX2003B, the Hub HUB01 on Exchange 2010's side."""
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        "New-LegacyExchangeServer EX2003 -Fqdn ex2003.contoso.com -RoutingGroup 'First Routing Group'\n"
        "New-LegacyExchangeServer EX2003B -Fqdn ex2003b.contoso.com -RoutingGroup 'First Routing Group' -Port 2525")
    return hub


def connectors():
    return sorted((c.routing_group.name, c.name, c.source_transport_servers, c.target_transport_servers, c.cost)
                  for c in RoutingGroupConnector.objects.select_related("routing_group"))


def test_exchange_2010s_routing_group_exists_in_every_organization(hub):
    assert shell_lines("Get-RoutingGroup | fl Name,IsLegacy,RoutingGroupMembersDN") == [
        f"Name                  : {EX2010}", "IsLegacy              : False",
        f"RoutingGroupMembersDN : {{{hub.name}}}"]
    assert shell(f"Get-RoutingGroup '{LONG_FORM}'")[0].obj.name == EX2010


def test_legacy_routing_groups_and_servers_are_described_with_this_products_cmdlets(legacy):
    assert [record.obj.name for record in shell("Get-RoutingGroup")] == [EX2010, "First Routing Group"]
    assert shell_lines("Get-LegacyExchangeServer EX2003B | fl Name,Fqdn,RoutingGroup,Port") == [
        "Name         : EX2003B", "Fqdn         : ex2003b.contoso.com", "RoutingGroup : First Routing Group",
        "Port         : 2525"]
    assert "give -Legacy" in error_of("New-RoutingGroup Second")
    assert "Exchange 2010's own routing group" in error_of(f"Remove-RoutingGroup '{EX2010}' -Confirm:$false")
    assert "RoutingGroup: a legacy server belongs to a legacy" in error_of(
        f"New-LegacyExchangeServer EX2003C -Fqdn c.contoso.com -RoutingGroup '{EX2010}'")
    assert "Fqdn" in error_of("New-LegacyExchangeServer EX2003C -Fqdn 'not a name' -RoutingGroup 'First Routing Group'")
    assert "still has servers" in error_of("Remove-RoutingGroup 'First Routing Group' -Confirm:$false")
    assert LegacyExchangeServer.objects.count() == 2


def test_a_mailbox_in_a_legacy_servers_database_shows_that_server(legacy):
    ems("New-Mailbox Lee -PrimarySmtpAddress lee@contoso.com -Password (ConvertTo-SecureString 'Passw0rd!' "
        "-AsPlainText -Force) -Database 'EX2003\\First Storage Group\\Mailbox Store (EX2003)'")
    assert shell_lines("Get-Mailbox Lee | fl Database,ServerName") == [
        "Database   : EX2003\\First Storage Group\\Mailbox Store (EX2003)", "ServerName : EX2003"]
    assert "Database: 'EX9' isn't a legacy Exchange server" in error_of(
        "Set-Mailbox Lee -Database 'EX9\\First Storage Group\\Mailbox Store (EX9)'")
    assert "mailboxes are in databases of 'EX2003'" in error_of("Remove-LegacyExchangeServer EX2003 -Confirm:$false")
    ems("Set-Mailbox Lee -Database $null")
    assert Mailbox.objects.get(name="Lee").server_name == ""


def test_new_routing_group_connector_takes_exchanges_parameters_with_its_defaults(legacy):
    ems(f"New-RoutingGroupConnector -Name 'Interop RGC' -SourceTransportServers {legacy.name} "
        "-TargetTransportServers ex2003.contoso.com -DomainController dc1.contoso.com")
    connector = RoutingGroupConnector.objects.get()
    assert (connector.routing_group.name, connector.target_routing_group.name, connector.cost,
            connector.max_message_size, connector.public_folder_referrals_enabled) == (
        EX2010, "First Routing Group", 1, None, True)
    assert shell_lines(f"Get-RoutingGroupConnector '{EX2010}\\Interop RGC' | fl Identity,SourceTransportServers,"
                       "TargetTransportServers,SourceRoutingGroup,TargetRoutingGroup,Cost,MaxMessageSize") == [
        f"Identity               : {EX2010}\\Interop RGC", f"SourceTransportServers : {{{legacy.name}}}",
        "TargetTransportServers : {EX2003}", f"SourceRoutingGroup     : {EX2010}",
        "TargetRoutingGroup     : First Routing Group", "Cost                   : 1", "MaxMessageSize         : Unlimited"]
    assert "NotAppliedHere" in ems("Get-RoutingGroupConnector 'Interop RGC' | fl NotAppliedHere")
    assert "public folders" in ems("Get-RoutingGroupConnector 'Interop RGC' | fl NotAppliedHere")


def test_bidirectional_creates_and_remove_takes_away_the_reciprocal_connector(legacy):
    ems(f"New-RoutingGroupConnector 'Interop RGC' -SourceTransportServers {legacy.name} "
        "-TargetTransportServers EX2003,EX2003B -Cost 10 -MaxMessageSize 20MB -BiDirectional $true")
    assert connectors() == [(EX2010, "Interop RGC", [legacy.name], ["EX2003", "EX2003B"], 10),
                            ("First Routing Group", "Interop RGC", ["EX2003", "EX2003B"], [legacy.name], 10)]
    reciprocal = RoutingGroupConnector.objects.get(routing_group__name="First Routing Group")
    assert reciprocal.max_message_size == 20 * MB
    ems(f"Remove-RoutingGroupConnector '{LONG_FORM}\\Interop RGC' -Confirm:$false")
    assert connectors() == []


def test_set_routing_group_connector_changes_every_parameter_as_microsofts_example(legacy):
    ems(f"New-RoutingGroupConnector 'Ex2010 to Ex2003 RGC' -SourceTransportServers {legacy.name} "
        "-TargetTransportServers EX2003")
    ems(f"Set-RoutingGroupConnector -Identity '{LONG_FORM}\\Ex2010 to Ex2003 RGC' -Cost 70 -MaxMessageSize 10MB "
        f"-SourceTransportServers {legacy.fqdn} -TargetTransportServers ex2003b.contoso.com "
        "-PublicFolderReferralsEnabled $false -Name 'Renamed RGC'")
    connector = RoutingGroupConnector.objects.get()
    assert (connector.name, connector.cost, connector.max_message_size, connector.target_transport_servers,
            connector.public_folder_referrals_enabled) == ("Renamed RGC", 70, 10 * MB, ["EX2003B"], False)
    assert ems("Get-RoutingGroupConnector 'Renamed RGC' | fl NotAppliedHere").split(":")[1].strip() == ""


@pytest.mark.parametrize("command, parameter, message", [
    ("-SourceTransportServers HUB9 -TargetTransportServers EX2003", "SourceTransportServers",
     "'HUB9' is neither a Hub Transport server nor a legacy Exchange server"),
    ("-SourceTransportServers {hub} -TargetTransportServers {hub}", "TargetTransportServers",
     "another routing group"),
    ("-SourceTransportServers {hub},EX2003 -TargetTransportServers EX2003B", "SourceTransportServers",
     "must be in one routing group"),
    ("-SourceTransportServers EX2003 -TargetTransportServers EX2003B", "TargetTransportServers",
     "another routing group"),
    ("-SourceTransportServers {hub} -TargetTransportServers EX2003 -Cost 0", "Cost", ""),
    ("-SourceTransportServers {hub} -TargetTransportServers EX2003 -MaxMessageSize 1KB", "MaxMessageSize", ""),
    ("-TargetTransportServers EX2003", "SourceTransportServers", "missing mandatory parameters"),
])
def test_refusals_name_the_parameter_and_save_nothing(legacy, command, parameter, message):
    text = error_of(f"New-RoutingGroupConnector Bad {command.format(hub=legacy.name)} -BiDirectional $true")
    assert parameter in text and message in text
    assert connectors() == []


def test_a_bidirectional_pair_is_saved_whole_or_not_at_all(legacy):
    ems("New-RoutingGroupConnector Taken -SourceTransportServers EX2003 -TargetTransportServers "
        f"{legacy.name}")
    assert "already exists" in error_of(f"New-RoutingGroupConnector Taken -SourceTransportServers {legacy.name} "
                                        "-TargetTransportServers EX2003 -BiDirectional $true")
    assert [name for _, name, *_ in connectors()] == ["Taken"]
    assert "routing group connectors use 'EX2003'" in error_of("Remove-LegacyExchangeServer EX2003 -Confirm:$false")


def test_get_mailroute_explains_a_legacy_mailboxs_route(legacy):
    ems("New-Mailbox Lee -PrimarySmtpAddress lee@contoso.com -Password (ConvertTo-SecureString 'Passw0rd!' "
        "-AsPlainText -Force) -Database 'EX2003B\\First Storage Group\\Mailbox Store (EX2003B)'\n"
        f"New-RoutingGroupConnector Cheap -SourceTransportServers {legacy.name} -TargetTransportServers EX2003B "
        "-Cost 2\n"
        f"New-RoutingGroupConnector Dear -SourceTransportServers {legacy.name} -TargetTransportServers EX2003 -Cost 9")
    [hop] = shell(f"Get-MailRoute -Recipient lee@contoso.com -Server {legacy.name}")
    assert (hop.get("Action"), hop.get("Connector"), hop.get("NextHop")) == (
        "Route", f"{EX2010}\\Cheap", "ex2003b.contoso.com:2525")
    assert "bridgeheads of the routing group First Routing Group" in hop.get("Result")
    assert [line.split(": ")[1] for line in hop.get("Candidates")] == ["candidate", "candidate"]


def test_whatif_checks_the_pair_and_saves_nothing(legacy):
    output = ems(f"New-RoutingGroupConnector Interop -SourceTransportServers {legacy.name} "
                 "-TargetTransportServers EX2003 -BiDirectional $true -WhatIf")
    assert ('What if: Creating Routing group connector "Interop" and its reciprocal in the target routing group.'
            in output)
    assert connectors() == []
