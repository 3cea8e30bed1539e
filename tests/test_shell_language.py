"""The PowerShell 2.0 language around the cmdlets, run end to end through `manage.py ems` as administrators' own
scripts use it: statements, operators and functions; splatting and the common parameters (-ErrorAction,
-WarningAction, -Verbose, -OutVariable...) with $? and $Error; text pasted from a web page; and what PowerShell
2.0 refuses."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
# shell_env: the ems process's environment
from tests.test_shell_ems_command import ems, output_lines as lines, run_script, shell_env  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def env(shell_env):  # noqa: F811
    return shell_env


# --- operators and statements ----------------------------------------------------------------------------------

def test_it_adds_an_address_to_a_receive_connectors_remote_ranges_with_plus_equals(env, tmp_path):
    result = run_script(env, tmp_path, "$rc = Get-ReceiveConnector 'HUB01\\Default HUB01'\n"
                                       "$rc.RemoteIPRanges += \"10.0.0.5\"\n"
                                       "Set-ReceiveConnector $rc -RemoteIPRanges $rc.RemoteIPRanges\n"
                                       "$count = 0\n"
                                       "$count++\n"
                                       "$count += 2\n"
                                       "\"$($rc.Identity): $($rc.RemoteIPRanges.Count) ranges after $count steps\"\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["HUB01\\Default HUB01: 2 ranges after 3 steps"]
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    assert connector.remote_ip_ranges[-1] == "10.0.0.5" and len(connector.remote_ip_ranges) == 2


def test_it_runs_a_piped_script_with_functions_loops_and_string_operators(env):
    script = (
        "function Get-Label {\n"
        "    param([string]$Name, $Prefix = 'domain', [switch]$Upper)\n"
        "    $label = \"{0}: {1}\" -f $Prefix, $Name\n"
        "    if ($Upper) { return $label.ToUpper() }\n"
        "    $label\n"
        "}\n"
        "foreach ($domain in Get-AcceptedDomain) {\n"
        "    Get-Label $domain.DomainName\n"
        "    Get-Label -Upper -Name $domain.Name -Prefix 'name'\n"
        "}\n"
        "$servers = 'HUB01', 'HUB02',\n"
        "           'EDGE01'\n"
        "for ($i = 0; $i -lt $servers.Count; $i++) {\n"
        "    switch -wildcard ($servers[$i]) {\n"
        "        'EDGE*' { \"$_ is an Edge server\"; break }\n"
        "        'HUB01' { \"$_ is this one\" }\n"
        "        default { \"$_ is another Hub\" }\n"
        "    }\n"
        "}\n"
        "$n = 0\n"
        "while ($true) {\n"
        "    $n += 1\n"
        "    if ($n % 2 -eq 0) { continue } elseif ($n -gt 5) { break } else { \"odd $n\" }\n"
        "}\n"
        "$ranges = '10.0.0.1-10.0.0.9;192.168.1.0/24' -split ';'\n"
        "($ranges -replace '^(\\d+)\\.', 'net$1.') -join ' | '\n"
        "'total: ' + (2 + 3 * 4) + ', ' + 7 / 2 + ', ' + (10 % 4) + ', ' + (1..4 -join '')\n"
        "Get-AcceptedDomain |\n"
        "    ForEach-Object { $_.Name } `\n"
        "    | Sort-Object\n"
        "$report = @\"\n"
        "Servers: $($servers.Count)\n"
        "  \"First\": $($servers[0])\n"
        "\"@\n"
        "$report\n")
    result = ems(env, stdin=script)
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == [
        "domain: contoso.com", "NAME: CONTOSO.COM",
        "HUB01 is this one", "HUB02 is another Hub", "EDGE01 is an Edge server",
        "odd 1", "odd 3", "odd 5",
        "net10.0.0.1-10.0.0.9 | net192.168.1.0/24",
        "total: 14, 3.5, 2, 1234",
        "contoso.com",
        "Servers: 3", '  "First": HUB01']


def test_it_reports_an_arithmetic_error_where_it_happened(env, tmp_path):
    result = run_script(env, tmp_path, "$total = 10\n$per = $total / 0\n'never'\n")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["Attempted to divide by zero.", "At " + str(tmp_path / "script.ps1")
                                          + ":2 char:16", "+ $per = $total / <<<<  0"]


# --- splatting and common parameters ----------------------------------------------------------------------------

def test_it_splats_a_hash_table_into_a_cmdlets_parameters(env, tmp_path):
    result = run_script(env, tmp_path, "$params = @{\n"
                                       "    Name = 'To Internet'\n"
                                       "    AddressSpaces = '*'\n"
                                       "    Internet = $true\n"
                                       "    MaxMessageSize = 25MB\n"
                                       "}\n"
                                       "New-SendConnector @params -Comment 'Splatted' | Out-Null\n"
                                       "$positional = 'To Internet'\n"
                                       "$args2 = @($positional)\n"
                                       "Get-SendConnector @args2 | ForEach-Object { $_.Comment }\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Splatted"]
    connector = SendConnector.objects.get()
    assert (connector.name, connector.usage, connector.max_message_size) == ("To Internet", "Internet", 25 * 2**20)


def test_it_goes_on_after_an_error_as_erroraction_says_and_keeps_it_in_error(env, tmp_path):
    result = run_script(env, tmp_path, "Get-SendConnector 'Nowhere' -ErrorAction SilentlyContinue\n"
                                       "if (-not $?) { 'missing: ' + $Error[0].Exception.Message }\n"
                                       "Get-SendConnector 'Elsewhere' -ea Continue -ErrorVariable failures\n"
                                       "\"kept $($failures.Count), $($Error.Count) in all\"\n"
                                       "Get-AcceptedDomain | Out-Null\n"
                                       "\"now $?\"\n"
                                       "Get-SendConnector 'Gone' -ErrorAction Stop\n"
                                       "'never'\n")
    assert result.returncode == 1
    assert lines(result)[0].startswith("missing: The operation couldn't be performed because object 'Nowhere' "
                                       "couldn't be found on '")
    assert lines(result)[1:] == ["kept 1, 2 in all", "now True"]
    errors = result.stderr.splitlines()
    assert errors[0].startswith("Get-SendConnector : The operation couldn't be performed because object "
                                "'Elsewhere' couldn't be found")
    assert errors[1] == f"At {tmp_path / 'script.ps1'}:3 char:18"
    assert errors[3].startswith('Get-SendConnector : Command execution stopped because the preference variable '
                                '"ErrorActionPreference" or common parameter is set to Stop: The operation '
                                "couldn't be performed because object 'Gone' couldn't be found")
    assert len(errors) == 6


def test_it_catches_a_stopped_cmdlets_error_by_its_type_and_runs_finally(env, tmp_path):
    result = run_script(env, tmp_path, "New-SendConnector Outbound -AddressSpaces * | Out-Null\n"
                                       "foreach ($name in 'Outbound', 'Nowhere') {\n"
                                       "    try {\n"
                                       "        $connector = Get-SendConnector $name -ErrorAction Stop\n"
                                       "        \"found $($connector.Name)\"\n"
                                       "    }\n"
                                       "    catch [Microsoft.Exchange.Configuration.Tasks."
                                       "ManagementObjectNotFoundException] {\n"
                                       "        Write-Host \"no connector named $name\"\n"
                                       "    }\n"
                                       "    finally { \"checked $name\" }\n"
                                       "}\n"
                                       "try { Get-SendConnector -Bogus } catch [ManagementObjectNotFoundException] "
                                       "{ 'not this one' } catch { \"binding: $_\" }\n"
                                       "try { throw 'Relay check failed' } finally { 'cleaned up' }\n"
                                       "'never'\n")
    assert result.returncode == 1
    assert lines(result) == ["found Outbound", "checked Outbound", "no connector named Nowhere", "checked Nowhere",
                             "binding: A parameter cannot be found that matches parameter name 'Bogus'.",
                             "cleaned up"]
    assert result.stderr.splitlines()[0] == "Relay check failed"
    assert result.stderr.splitlines()[1] == f"At {tmp_path / 'script.ps1'}:13 char:12"


def test_it_takes_the_error_action_preference_from_the_variable(env):
    result = ems(env, "-c", "$ErrorActionPreference = 'SilentlyContinue'; Get-SendConnector Nowhere; "
                            "'after'; $ErrorActionPreference = 'Stop'; Get-SendConnector Nowhere; 'never'")
    assert result.returncode == 1
    assert lines(result) == ["after"]
    assert result.stderr.startswith('Get-SendConnector : Command execution stopped because the preference variable '
                                    '"ErrorActionPreference" or common parameter is set to Stop:')


def test_it_silences_keeps_or_stops_on_warnings_as_warningaction_says(env, tmp_path):
    setup = ems(env, "-c", "New-SendConnector Outbound -AddressSpaces *")
    assert setup.returncode == 0
    result = run_script(env, tmp_path, "Set-SendConnector Outbound -WarningAction SilentlyContinue "
                                       "-WarningVariable unchanged\n"
                                       "\"warnings: $($unchanged.Count)\"\n"
                                       "Set-SendConnector Outbound\n"
                                       "Set-SendConnector Outbound -wa Stop\n"
                                       "'never'\n")
    assert result.returncode == 1
    assert lines(result) == ["warnings: 1"]
    assert result.stderr.splitlines()[:2] == [
        "WARNING: The command completed successfully but no settings of 'Outbound' have been modified.",
        'Set-SendConnector : The running command stopped because the preference variable "WarningPreference" or '
        "common parameter is set to Stop: The command completed successfully but no settings of 'Outbound' have "
        "been modified."]


def test_it_writes_verbose_lines_and_keeps_output_in_outvariable(env):
    result = ems(env, "-c", "$null = Get-AcceptedDomain -Verbose -OutVariable domains; "
                            "Get-AcceptedDomain -ov +domains | Out-Null; \"$($domains.Count) $($domains[0].Name)\"")
    assert result.returncode == 0
    assert lines(result) == ["2 contoso.com"]
    verbose = result.stderr.splitlines()
    assert len(verbose) == 2 and all(line.startswith("VERBOSE: [") for line in verbose)
    assert verbose[0].endswith(" GMT] Get-AcceptedDomain : Beginning processing &")
    assert verbose[1].endswith(" GMT] Get-AcceptedDomain : Ending processing &")


def test_it_writes_debug_lines_with_the_bound_parameters(env):
    result = ems(env, "-c", "$null = Get-AcceptedDomain contoso.com -Debug; $DebugPreference = 'Continue'; "
                            "$null = Get-AcceptedDomain -Identity contoso.com -Debug:$false; "
                            "$null = Get-AcceptedDomain -Identity contoso.com")
    assert result.returncode == 0
    debug = result.stderr.splitlines()
    assert len(debug) == 2 and all(line.startswith("DEBUG: [") for line in debug)
    assert all(line.endswith(" GMT] Get-AcceptedDomain : Parameters: -Identity 'contoso.com'") for line in debug)


def test_it_refuses_an_error_action_powershell_2_does_not_have(env):
    result = ems(env, "-c", "Get-AcceptedDomain -ErrorAction Ignore")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "Get-AcceptedDomain : Cannot bind parameter 'ErrorAction'. Cannot convert value \"Ignore\" to type "
        "\"System.Management.Automation.ActionPreference\" due to invalid enumeration values. Specify one of the "
        "following enumeration values and try again. The possible enumeration values are \"SilentlyContinue, Stop, "
        "Continue, Inquire\".")


# --- pasted text and refusals ----------------------------------------------------------------------------------

def test_it_reads_dashes_quotes_and_spaces_pasted_from_a_web_page(env, tmp_path):
    pasted = ("Get-AcceptedDomain\u00a0\u2013Identity \u201ccontoso.com\u201d | Format-List Name\n"
              "$note = \u2018It\u2019\u2019s \u2014 kept\u2019\n"
              "if ($note \u2013like \u201c*\u2014*\u201d) { $note }\n")
    result = run_script(env, tmp_path, pasted)
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Name : contoso.com", "It's \u2014 kept"]
    assert ems(env, "-c", pasted.splitlines()[0]).stdout.strip() == "Name : contoso.com"


def test_it_takes_in_and_notin_on_collections(env):
    result = ems(env, "-c", "if ('hub01' -in 'HUB01','HUB02') { 'yes' }; 'EDGE' -notin 'HUB01','HUB02'; "
                            "'hub01' -cin 'HUB01'")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == ["yes", "True", "False"]
