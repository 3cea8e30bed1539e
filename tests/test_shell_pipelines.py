"""Pipelines that bind objects by Identity, Where-Object with a script block, Select-/Sort-/Measure-Object, and
output as Exchange shows it (default table columns, Format-List values)."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from tests.shell_helpers import ems, lines

MB = 1024 * 1024


@pytest.fixture
def connectors(hub):
    """Three send connectors: unlimited, 10 MB (default) and 25 MB; one disabled."""
    ems("New-SendConnector 'To Internet' -Internet -AddressSpaces * -MaxMessageSize unlimited\n"
        "New-SendConnector 'To Fabrikam' -AddressSpaces fabrikam.com -Enabled $false\n"
        "New-SendConnector 'To Woodgrove' -Partner -AddressSpaces woodgrovebank.com -MaxMessageSize 25MB")


def names(text):
    return lines(ems(text + " | Select-Object -ExpandProperty Name"))


# --- binding by Identity --------------------------------------------------------------------------------

def test_it_binds_piped_connectors_by_identity(connectors):
    ems("Get-SendConnector | Set-SendConnector -MaxMessageSize 20MB")
    assert set(SendConnector.objects.values_list("max_message_size", flat=True)) == {20 * MB}


def test_it_binds_piped_names_and_identity_properties(connectors):
    ems("'To Internet', 'To Fabrikam' | Set-SendConnector -Comment 'by name'\n"
        "Get-SendConnector 'To Woodgrove' | Select-Object Identity | Set-SendConnector -Comment 'by property'")
    assert dict(SendConnector.objects.values_list("name", "comment")) == {
        "To Internet": "by name", "To Fabrikam": "by name", "To Woodgrove": "by property"}


def test_it_pipes_a_variable_holding_objects(connectors):
    ems("$disabled = Get-SendConnector | Where-Object { -not $_.Enabled }\n"
        "$disabled | Set-SendConnector -Enabled $true")
    assert not SendConnector.objects.filter(enabled=False).exists()


def test_it_pipes_one_servers_receive_connectors_into_remove(second_hub):
    ems("Get-ReceiveConnector -Server HUB02 | Remove-ReceiveConnector -Confirm:$false")
    assert {connector.server.name for connector in ReceiveConnector.objects.all()} == {"HUB01"}


# --- Where-Object ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filter_, expected", [
    ("{$_.Enabled -eq $true}", ["To Internet", "To Woodgrove"]),
    ("{$_.Enabled -ne $true}", ["To Fabrikam"]),
    ("{$_.Name -like 'to w*'}", ["To Woodgrove"]),
    ("{$_.Name -notlike '*Internet'}", ["To Fabrikam", "To Woodgrove"]),
    ("{$_.MaxMessageSize -gt 20MB}", ["To Internet", "To Woodgrove"]),
    ("{$_.MaxMessageSize -lt 20MB}", ["To Fabrikam"]),
    ("{$_.Enabled -and $_.MaxMessageSize -lt 30MB}", ["To Woodgrove"]),
    ("{$_.Usage -eq 'Partner' -or $_.Enabled -eq $false}", ["To Fabrikam", "To Woodgrove"]),
    ("{$_.AddressSpaces -like '*bank*'}", ["To Woodgrove"]),
    ("{$_.SourceTransportServers -eq 'hub01'}", ["To Fabrikam", "To Internet", "To Woodgrove"]),
    ("{$_.MaxMessageSize -eq 'unlimited'}", ["To Internet"]),
    ("{$_.DomainSecureEnabled}", ["To Woodgrove"]),
    ("{-not $_.Enabled -or $_.Name -like '*Internet'}", ["To Fabrikam", "To Internet"]),
])
def test_it_filters_with_where_object_s_script_block(connectors, filter_, expected):
    assert sorted(names(f"Get-SendConnector | Where-Object {filter_}")) == expected


def test_it_accepts_the_where_and_question_mark_aliases(connectors):
    assert names("Get-SendConnector | where {$_.Enabled} | ? {$_.Name -like '*Internet'}") == ["To Internet"]


# --- Select-, Sort-, Measure-Object ----------------------------------------------------------------------

def test_it_sorts_by_a_property_with_unlimited_largest(connectors):
    assert names("Get-SendConnector | Sort-Object MaxMessageSize -Descending") == [
        "To Internet", "To Woodgrove", "To Fabrikam"]
    assert names("Get-SendConnector | Sort-Object Enabled, Name") == ["To Fabrikam", "To Internet", "To Woodgrove"]


def test_it_selects_properties_first_and_last_and_calculated_ones(connectors):
    output = ems("Get-SendConnector | Sort-Object Name | Select-Object Name, MaxMessageSize -First 2")
    assert lines(output) == ["Name        MaxMessageSize",
                             "----        --------------",
                             "To Fabrikam 10 MB (10,485,760 bytes)",
                             "To Internet Unlimited"]
    assert lines(ems("Get-SendConnector | Sort-Object Name | Select-Object -Last 1 "
                     "@{Name='Spaces'; Expression={$_.AddressSpaces.Count}}")) == ["Spaces", "------", "1"]


def test_it_measures_counts_and_sums(connectors):
    assert lines(ems("(Get-SendConnector | Measure-Object).Count")) == ["3"]
    output = ems("Get-SendConnector | Where-Object {$_.Name -ne 'To Internet'} | "
                 "Measure-Object -Property MaxMessageSize -Sum -Maximum")
    assert lines(output) == ["Count    : 2", "Average  :", f"Sum      : {35 * MB}", f"Maximum  : {25 * MB}",
                             "Minimum  :", "Property : MaxMessageSize"]


# --- output --------------------------------------------------------------------------------------------------

def test_it_shows_exchanges_default_columns_for_get_cmdlets(connectors):
    assert lines(ems("Get-SendConnector 'To Internet'")) == ["Identity    AddressSpaces Enabled",
                                                             "--------    ------------- -------",
                                                             "To Internet {SMTP:*;1}    True"]
    assert lines(ems("Get-ReceiveConnector")) == ["Identity            Bindings       Enabled",
                                                  "--------            --------       -------",
                                                  "HUB01\\Client HUB01  {0.0.0.0:2587} True",
                                                  "HUB01\\Default HUB01 {0.0.0.0:2025} True"]


def test_it_lists_every_property_with_exchanges_value_formats(connectors):
    listed = lines(ems("Get-ReceiveConnector 'HUB01\\Default HUB01' | Format-List"))
    assert "Bindings                                : {0.0.0.0:2025}" in listed
    assert "RemoteIPRanges                          : {0.0.0.0-255.255.255.255}" in listed
    assert "MaxMessageSize                          : 10 MB (10,485,760 bytes)" in listed
    assert "PermissionGroups                        : ExchangeUsers, ExchangeServers, ExchangeLegacyServers" in listed
    assert "ConnectionTimeout                       : 00:10:00" in listed
    assert "MaxInboundConnectionPercentagePerSource : 2" in listed
    assert listed[0].startswith("Identity ") and len(listed) == len(ems("(Get-ReceiveConnector)[0] | fl *")
                                                                     .strip().splitlines())
    assert lines(ems("Get-SendConnector 'To Internet' | fl AddressSpaces, Max*, *Credential")) == [
        "AddressSpaces            : {SMTP:*;1}", "MaxMessageSize           : Unlimited",
        "AuthenticationCredential :"]


def test_it_formats_a_table_of_chosen_properties(connectors):
    assert lines(ems("Get-SendConnector | Sort-Object Name | ft Name, Usage, MaxMessageSize -AutoSize")) == [
        "Name         Usage    MaxMessageSize",
        "----         -----    --------------",
        "To Fabrikam  Custom   10 MB (10,485,760 bytes)",
        "To Internet  Internet Unlimited",
        "To Woodgrove Partner  25 MB (26,214,400 bytes)",
    ]


def test_it_shows_a_property_value_as_exchange_does(connectors):
    assert lines(ems("$c = Get-SendConnector 'To Woodgrove'; $c.MaxMessageSize; $c.AddressSpaces; $c.Enabled")) == [
        "25 MB (26,214,400 bytes)", "SMTP:woodgrovebank.com;1", "True"]
