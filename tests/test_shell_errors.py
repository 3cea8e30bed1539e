"""Errors as Exchange reports them — unknown cmdlet or parameter, missing or wrong values, objects not found,
the service layer's rules — and a failed command, pipeline or script line changing nothing."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization.models import AcceptedDomain, Mailbox
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems


def error_of(text):
    with pytest.raises(ShellError) as raised:
        ems(text)
    return raised.value


def rendered(text):
    return error_of(text).render(text).splitlines()


def test_it_reports_an_unknown_cmdlet_with_its_position(hub):
    assert rendered("Get-SendConnector; Get-SendConector") == [
        "The term 'Get-SendConector' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct and "
        "try again.",
        "At line:1 char:36",
        "+ Get-SendConnector; Get-SendConector <<<<",
    ]


def test_it_reports_an_unknown_parameter_at_the_parameter(hub):
    assert rendered("New-SendConnector -Name Out -AddressSpace * -Color Blue") == [
        "New-SendConnector : A parameter cannot be found that matches parameter name 'Color'.",
        "At line:1 char:51",
        "+ New-SendConnector -Name Out -AddressSpace * -Color <<<<  Blue",
    ]


def test_it_reports_an_ambiguous_parameter_prefix(hub):
    assert error_of("Set-ReceiveConnector 'Default HUB01' -MaxInbound 10").message == (
        "Parameter cannot be processed because the parameter name 'MaxInbound' is ambiguous. Possible matches "
        "include: -MaxInboundConnection -MaxInboundConnectionPerSource -MaxInboundConnectionPercentagePerSource.")


@pytest.mark.parametrize("command, message", [
    ("New-SendConnector -AddressSpaces *",
     "Cannot process command because of one or more missing mandatory parameters: Name."),
    ("New-SendConnector -Name",
     "Missing an argument for parameter 'Name'. Specify a parameter of type 'System.String' and try again."),
    ("Set-SendConnector -Identity X -Port",
     "Missing an argument for parameter 'Port'. Specify a parameter of type 'System.Int32' and try again."),
    ("Get-SendConnector a b", "A positional parameter cannot be found that accepts argument 'b'."),
    ("New-SendConnector -Name a -Name b",
     "Cannot bind parameter because parameter 'Name' is specified more than once. To provide multiple values to "
     "parameters that can accept multiple values, use the array syntax. For example, "
     '"-parameter value1,value2,value3".'),
    ("New-SendConnector Out -AddressSpaces * -Internet -Partner",
     "Parameter set cannot be resolved using the specified named parameters."),
    ("New-SendConnector Out -AddressSpaces * -Internet -Usage Internet",
     "Parameter set cannot be resolved using the specified named parameters."),
    ("'contoso.com' | New-AcceptedDomain x -DomainName x.com",
     "The input object cannot be bound to any parameters for the command either because the command does not "
     "take pipeline input or the input and its properties do not match any of the parameters that take pipeline "
     "input."),
    ("New-Mailbox Chris -PrimarySmtpAddress chris@contoso.com -Password 'plain'",
     "Cannot bind parameter 'Password'. Cannot convert the value of type \"System.String\" to type "
     "\"System.Security.SecureString\"."),
    ("New-SendConnector Out -AddressSpaces * -AuthenticationCredential 'user'",
     "Cannot bind parameter 'AuthenticationCredential'. Cannot convert the value of type \"System.String\" to "
     "type \"System.Management.Automation.PSCredential\"."),
])
def test_it_reports_binding_errors_as_powershell_does(hub, command, message):
    assert error_of(command).message == message
    assert not SendConnector.objects.exists() and not Mailbox.objects.exists()


@pytest.mark.parametrize("command, message", [
    ("New-SendConnector Out -Usage Outbound -AddressSpaces *",
     "Usage: 'Outbound' is not valid; accepted values: Custom, Internal, Internet, Partner"),
    ("New-SendConnector Out -AddressSpaces * -MaxMessageSize big",
     "MaxMessageSize: 'big' is not a size; use a number with B, KB, MB, GB or TB, or 'unlimited'"),
    ("New-SendConnector Out -AddressSpaces * -Port 70000", "Port: 70000 is outside the range 1 to 65535"),
    ("New-SendConnector Out -AddressSpaces * -Enabled maybe", "Enabled: 'maybe' is not a Boolean; use $true or $false"),
    ("New-SendConnector Out -AddressSpaces '*contoso.com'",
     "AddressSpaces: '*contoso.com' is not a valid SMTP address space; use a domain such as contoso.com, "
     "*.contoso.com or *"),
    ("New-SendConnector Out -AddressSpaces * -ConnectionInactivityTimeOut 10min",
     "ConnectionInactivityTimeOut: '10min' is not a time span; use hh:mm:ss or d.hh:mm:ss"),
])
def test_it_names_the_parameter_and_accepted_values_of_a_wrong_value(hub, command, message):
    error = error_of(command)
    assert (error.command, error.message) == ("New-SendConnector", message)


def test_it_reports_every_refused_parameter_of_one_command(hub):
    error = error_of("New-SendConnector Out -AddressSpaces * -Port 0 -ProtocolLoggingLevel Loud")
    assert error.message.splitlines() == [
        "Port: 0 is outside the range 1 to 65535",
        "ProtocolLoggingLevel: 'Loud' is not valid; accepted values: None, Verbose"]


@pytest.mark.parametrize("command, message", [
    ("Set-SendConnector Nowhere -Enabled $false",
     "The operation couldn't be performed because object 'Nowhere' couldn't be found on 'this organization'."),
    ("Get-ReceiveConnector 'HUB01\\Nowhere'",
     "The operation couldn't be performed because object 'HUB01\\Nowhere' couldn't be found on "
     "'hub01.contoso.com'."),
    ("Remove-AcceptedDomain fabrikam.com -Confirm:$false",
     "The operation couldn't be performed because object 'fabrikam.com' couldn't be found on 'this organization'."),
    ("Get-ReceiveConnector -Server HUB09",
     "The operation couldn't be performed because object 'HUB09' couldn't be found on 'this organization'."),
])
def test_it_reports_an_object_that_isnt_there(hub, command, message):
    assert error_of(command).message == message


@pytest.mark.parametrize("command, message", [
    ("Set-ReceiveConnector 'Default HUB01' -Banner 'Hello'", "Banner: a custom banner must start with '220 '."),
    ("New-ReceiveConnector Second -Bindings 0.0.0.0:2025 -RemoteIPRanges 0.0.0.0-255.255.255.255",
     'The values that you specified for the Bindings and RemoteIPRanges parameters conflict with the settings on '
     'Receive connector "HUB01\\Default HUB01".'),
    ("New-SendConnector Out -AddressSpaces * -SmartHosts relay.contoso.com",
     "DNSRoutingEnabled: must be $false when SmartHosts is specified."),
    ("Remove-AcceptedDomain contoso.com -Confirm:$false", None),
    ("Set-RemoteDomain Default -LineWrapSize 200", "LineWrapSize: 200 is outside the range 0 to 132"),
])
def test_it_reports_the_service_layers_rules(hub, command, message):
    ems("New-AcceptedDomain Fabrikam -DomainName fabrikam.com")
    error = error_of(command)
    if message is None:  # the default accepted domain
        assert "can't be removed" in error.message
    else:
        assert error.message == message
    assert ReceiveConnector.objects.count() == 2 and AcceptedDomain.objects.count() == 2
    assert not ReceiveConnector.objects.filter(banner="Hello").exists()


def test_it_changes_nothing_when_a_pipeline_fails_part_way(hub):
    ems("New-SendConnector 'A Fabrikam' -AddressSpaces fabrikam.com; "
        "New-SendConnector 'B Relay' -AddressSpaces * -SmartHosts relay.contoso.com -DNSRoutingEnabled $false")
    error = error_of("Get-SendConnector | Sort-Object Name | Set-SendConnector -DomainSecureEnabled $true")
    assert error.message.startswith("DomainSecureEnabled: requires DNSRoutingEnabled $true")
    assert list(SendConnector.objects.values_list("domain_secure_enabled", "version")) == [(False, 1), (False, 1)]


def test_it_stops_a_script_at_the_first_error(hub):
    error = error_of("New-SendConnector First -AddressSpaces a.com\nSet-SendConnector First -Colour red\n"
                     "New-SendConnector Third -AddressSpaces c.com")
    assert error.render("x\n" * 3).startswith("Set-SendConnector : A parameter cannot be found")
    assert list(SendConnector.objects.values_list("name", flat=True)) == ["First"]


def test_it_refuses_plain_text_without_force_and_unknown_types(hub):
    assert error_of("ConvertTo-SecureString 'pw' -AsPlainText").message.startswith(
        "The system cannot protect plain text input.")
    assert error_of("New-Object System.Net.WebClient").message == (
        "Cannot find type [System.Net.WebClient]: make sure the assembly containing this type is loaded.")
    assert error_of("New-Object System.Management.Automation.PSCredential('u', 'pw')").command == "New-Object"


def test_it_reports_bad_counts_and_patterns_as_errors(hub):
    assert error_of("Get-ReceiveConnector | Select-Object -First many").message == (
        "Cannot bind parameter 'First'. Cannot convert value \"many\" to type \"System.Int32\".")
    assert error_of("'HUB01' -match '(unclosed'").message.startswith(
        "The regular expression pattern (unclosed is not valid")
    assert ems("Get-ReceiveConnector | Select-Object -Last 5 | Measure-Object | fl Count").split() == [
        "Count", ":", "2"]


@pytest.mark.parametrize("command, opener", [
    ("(" * 5000 + "1" + ")" * 5000, "("),
    ("-not " * 5000 + "$true", "-not"),
    ("@(" * 3000 + "1" + ")" * 3000, "@("),
    ("Get-AcceptedDomain | Where-Object " + "{" * 3000 + "$true" + "}" * 3000, "{"),
    ("$h = " + "@{a=" * 3000 + "1" + "}" * 3000, "@{"),
    ("$x = 1; $x" + "[$x" * 3000 + "]" * 3000, "["),
])
def test_it_refuses_deep_nesting_with_an_error_at_the_level_too_many(hub, command, opener):
    error = error_of(command)
    assert error.message == "The script is nested too deeply. The nesting depth reached 33 and the maximum is 32."
    assert command[:error.end].count(opener) == 33      # the <<<< marker stands after the 33rd level


def test_it_runs_nesting_within_the_limit_and_chains_of_any_length(hub):
    assert ems("(" * 32 + "'deep'" + ")" * 32) == "deep\n"
    assert ems("$true" + " -and $true" * 5000) == "True\n"
    assert ems("1" + " -eq 1" * 5000) == "True\n"


def test_it_ends_a_script_that_builds_a_value_too_deep_to_show_with_an_error(hub):
    assert error_of("$a = 1; " + "$a = $a, 1; " * 3000 + "$a").message == (
        "The script failed due to call depth overflow.")


def test_it_refuses_a_deeply_nested_opath_filter_as_a_bad_filter_argument(hub):
    error = error_of("Get-Message -Filter '" + "(" * 5000 + "Status -eq Retry" + ")" * 5000 + "'")
    assert error.render("x").startswith("Get-Message : Cannot bind parameter 'Filter'. Filter: parentheses and "
                                        "-not are nested too deeply; the maximum is 32 levels.")
    assert ems("Get-Message -Filter {" + "Status -eq Retry -or " * 99 + "Status -eq Ready}") == ""
    assert error_of("Get-Message -Filter {" + "Status -eq Retry -or " * 3000 + "Status -eq Ready}").message == (
        "Cannot bind parameter 'Filter'. Filter: too many comparisons; the maximum is 100.")
