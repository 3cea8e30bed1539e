"""The .NET members administrators' scripts call, run end to end through `manage.py ems`: string methods,
casts, [string]::Join, [math]::Round, dates, [System.IO.File]::ReadAllBytes and the anonymous principal's
SID translation; and the refusal of every member outside that list."""
import pytest

from exchange_console.connectors.models import ReceiveConnector
# shell_env: the ems process's environment
from tests.test_shell_ems_command import ems, output_lines as lines, run_script, shell_env  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def files_env(shell_env, tmp_path):  # noqa: F811
    root = tmp_path / "files"
    return {**shell_env, "EMS_FILE_ROOT": str(root)}, root


def test_it_runs_string_methods_a_connector_script_uses(shell_env, tmp_path):  # noqa: F811
    result = run_script(shell_env, tmp_path, (
        "$name = '  Relay From Scanners  '.Trim()\n"
        "$name.ToUpper()\n"
        "$name.ToLower().Replace(' ', '-')\n"
        "$name.Split(' ')[1]\n"
        "$name.Substring(0, 5); $name.IndexOf('From'); $name.Length\n"
        "$name.Contains('Scan'); $name.StartsWith('relay')\n"
        "[string]::Join(';', ('10.0.0.5', '10.0.0.6'))\n"
        "[math]::Round(25.4567, 2)\n"
        "[int]'42' -gt 9\n"), "names.ps1")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["RELAY FROM SCANNERS", "relay-from-scanners", "From", "Relay", "6", "19", "True",
                             "False", "10.0.0.5;10.0.0.6", "25.46", "True"]


def test_it_computes_dates_as_report_scripts_do(shell_env):  # noqa: F811
    result = ems(shell_env, stdin="$start = [datetime]'2026-03-01'\n"
                                  "$start.AddDays(-1).ToString('yyyyMMdd')\n"
                                  "$start.AddMonths(1).ToString('dd/MM/yyyy HH:mm')\n"
                                  "(Get-Date -Date '2026-12-31').DayOfWeek\n"
                                  "Get-Date -Date '2026-01-05 14:30' -Format 'yyyy-MM-dd hh:mm tt'\n"
                                  "$start.AddHours(12) -gt '2026-03-01'; $start -eq '03/01/2026'\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["20260228", "01/04/2026 00:00", "Thursday", "2026-01-05 02:30 PM", "True", "True"]


def test_it_translates_the_anonymous_sid_for_an_add_adpermission_script(shell_env):  # noqa: F811
    result = ems(shell_env, "-c",
                 '$sid = New-Object System.Security.Principal.SecurityIdentifier("S-1-5-7"); '
                 '$anonymous = $sid.Translate([System.Security.Principal.NTAccount]).Value; '
                 '"User: $anonymous"')
    assert (result.returncode, result.stderr, lines(result)) == (0, "", ["User: NT AUTHORITY\\ANONYMOUS LOGON"])


def test_it_reads_a_file_s_bytes_from_the_mapped_folder(files_env):
    env, root = files_env
    (root / "C" / "certs").mkdir(parents=True)
    (root / "C" / "certs" / "relay.pem").write_bytes(b"\x00\x01PEM")
    result = ems(env, stdin="$data = [System.IO.File]::ReadAllBytes('C:\\certs\\relay.pem')\n"
                            "$data.Length\n"
                            "([byte[]](Get-Content C:\\certs\\relay.pem -Encoding Byte -ReadCount 0)).Count\n")
    assert (result.returncode, result.stderr, lines(result)) == (0, "", ["5", "5"])


def test_it_reports_a_missing_file_read_by_a_member_without_a_traceback(files_env):
    env, _ = files_env
    result = ems(env, "-c", "[System.IO.File]::ReadAllBytes('C:\\certs\\missing.pfx')")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "Cannot find path 'C:\\certs\\missing.pfx' because it does not exist."
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("script, message", [
    ("'contoso'.GetType()", "[System.String] has no member 'GetType' here; use a cmdlet instead."),
    ("[System.IO.File]::Delete('C:\\x.txt')", "[System.IO.File] has no member 'Delete' here; use a cmdlet instead."),
    ("[System.Diagnostics.Process]::Start('calc')",
     "Unable to find type [System.Diagnostics.Process]: make sure that the assembly containing this type is loaded."),
    ("(Get-Date).AddTicks(5)", "[System.DateTime] has no member 'AddTicks' here; use a cmdlet instead."),
])
def test_it_refuses_members_outside_the_whitelist(shell_env, script, message):  # noqa: F811
    result = ems(shell_env, "-c", f"{script}; New-AcceptedDomain Never -DomainName never.com")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith(message)
    assert "Traceback" not in result.stderr and "Never" not in result.stdout


def test_it_refuses_a_cast_that_fails_as_powershell_does(shell_env):  # noqa: F811
    result = ems(shell_env, "-c", "[int]'twenty'")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == ('Cannot convert value "twenty" to type "System.Int32". Error: '
                                             '"Input string was not in a correct format."')


def test_it_uses_members_inside_a_pipeline_that_changes_connectors(shell_env, tmp_path):  # noqa: F811
    script = tmp_path / "comments.ps1"
    script.write_text("Get-ReceiveConnector | Where-Object { $_.Name.ToLower().StartsWith('default') } |\n"
                      "    Set-ReceiveConnector -Comment \"Reviewed $((Get-Date -Date '2026-02-03').ToString("
                      "'yyyy-MM-dd'))\"\n")
    result = ems(shell_env, "-f", str(script))
    assert (result.returncode, result.stderr) == (0, "")
    assert dict(ReceiveConnector.objects.values_list("name", "comment")) == {
        "Default HUB01": "Reviewed 2026-02-03", "Client HUB01": ""}


def test_it_converts_sizes_and_formats_numbers_as_size_reports_do(shell_env):  # noqa: F811
    result = ems(shell_env, stdin=(
        "Get-ReceiveConnector | Sort Name | Select Name, @{n='Max (MB)'; e={ $_.MaxMessageSize.Value.ToMB() }},\n"
        "    @{n='Header (KB)'; e={ $_.MaxHeaderSize.ToKB() }}, @{n='Rate'; e={ $_.MessageRateLimit.IsUnlimited }} |\n"
        "    ft -AutoSize\n"
        "(1234.5678).ToString('N2'); (0.256).ToString('P1'); (7).ToString('D3')\n"))
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Name          Max (MB) Header (KB) Rate", "----          -------- ----------- ----",
                             "Client HUB01  10       64          True", "Default HUB01 10       64          True",
                             "1,234.57", "25.6 %", "007"]


@pytest.mark.parametrize("script, message", [
    ("[string]::Join()", 'Cannot find an overload for "Join" and the argument count: "0".'),
    ("[math]::Round('many')", 'Exception calling "Round" with "1" argument(s): "Input string was not in a correct '
                              'format."'),
    ("'contoso'.Substring('x')", 'Exception calling "Substring" with "1" argument(s): "Input string was not in a '
                                 'correct format."'),
    ("(New-Object System.Security.Principal.SecurityIdentifier('S-1-5-99')).Translate("
     "[System.Security.Principal.NTAccount])",
     'Exception calling "Translate" with "1" argument(s): "Some or all identity references could not be translated."'),
])
def test_it_refuses_arguments_a_member_cannot_take(shell_env, script, message):  # noqa: F811
    result = ems(shell_env, "-c", script)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == message
