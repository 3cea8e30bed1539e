"""PowerShell's own cmdlets around the Exchange ones, in the shape administrators' report and bulk-change scripts
have, run end to end through `manage.py ems` (script files and piped input): grouping, sorting and selecting
unique objects, calculated properties, measuring, ForEach-Object's three blocks, filters with -and/-or/-not,
formatting, Out-String, ConvertTo-Html, Write-Host, Read-Host and the aliases PowerShell 2.0 has."""
import pytest

from exchange_console.connectors.models import ReceiveConnector, SendConnector
from exchange_console.organization import setup
# shell_env: the ems process's environment
from tests.test_shell_ems_command import (  # noqa: F401
    PROMPT, Terminal, ems, output_lines as lines, run_script, shell_env,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_groups_filters_sorts_and_selects_unique_objects(shell_env, tmp_path):  # noqa: F811
    result = run_script(shell_env, tmp_path, (
        "Get-ReceiveConnector | Group-Object Server | Format-Table Count,Name -AutoSize\n"
        "Get-ReceiveConnector | ? { $_.Enabled -and -not ($_.Name -like 'Client*') -or $_.Bindings -like '*:2587' } |\n"
        "    sort Name -Descending | select -ExpandProperty Name\n"
        "'b','a','B','c' | Sort-Object -Unique\n"
        "'x','y','x' | select -Unique\n"
        "Get-ReceiveConnector | Select -Last 1 | where { $_ } | group Enabled -NoElement\n"), "inventory.ps1")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Count Name", "----- ----", "2     HUB01",
                             "Default HUB01", "Client HUB01", "a", "b", "c", "x", "y",
                             "Count Name", "----- ----", "1     True"]


def test_it_reports_with_calculated_properties_and_measures(shell_env):  # noqa: F811
    result = ems(shell_env, stdin=(
        "Get-ReceiveConnector | Select-Object Name, @{Name='Size'; Expression={ $_.MaxMessageSize }},\n"
        "    @{l='Port'; e={ $_.Bindings }} | ft -AutoSize -Wrap\n"
        "Get-ReceiveConnector | measure -Property MaxRecipientsPerMessage -Sum -Average -Maximum |\n"
        "    fl Count,Sum,Average,Maximum\n"
        "Get-ReceiveConnector | Select -First 1 | fl Name,*Timeout\n"))
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == [
        "Name          Size                     Port", "----          ----                     ----",
        "Client HUB01  10 MB (10,485,760 bytes) 0.0.0.0:2587", "Default HUB01 10 MB (10,485,760 bytes) 0.0.0.0:2025",
        "Count   : 2", "Sum     : 400", "Average : 200", "Maximum : 200",
        "Name                        : Client HUB01", "ConnectionTimeout           : 00:10:00",
        "ConnectionInactivityTimeout : 00:05:00"]


def test_it_runs_foreach_object_begin_process_and_end(shell_env, tmp_path):  # noqa: F811
    result = run_script(shell_env, tmp_path, (
        "$report = Get-ReceiveConnector | Sort-Object Name | ForEach-Object -Begin { 'Receive connectors:' } `\n"
        "    -Process { \"  $($_.Name) on $($_.Server)\" } -End { '(end)' }\n"
        "$report\n"
        "Get-ReceiveConnector | % { Set-ReceiveConnector $_ -MaxRecipientsPerMessage 100 }\n"
        "Get-ReceiveConnector | Select -First 1 | foreach { $_.Name.ToUpper() } | echo\n"), "tighten.ps1")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Receive connectors:", "  Client HUB01 on HUB01", "  Default HUB01 on HUB01", "(end)",
                             "CLIENT HUB01"]
    assert set(ReceiveConnector.objects.values_list("max_recipients_per_message", flat=True)) == {100}


def test_it_turns_output_into_text_and_html(shell_env):  # noqa: F811
    ems(shell_env, "-c", "Set-ReceiveConnector 'Default HUB01' -Comment '<b>Partners</b> & relays'")
    result = ems(shell_env, stdin=(
        "(Get-AcceptedDomain | Out-String).Contains('Authoritative')\n"
        "Get-ReceiveConnector 'Default HUB01' | Select Name,Comment | ConvertTo-Html -Title 'Connectors'\n"
        "Get-ReceiveConnector 'Default HUB01' | ConvertTo-Html Name,Enabled -Fragment\n"))
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == [
        "True",
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"  '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml">', "<head>", "<title>Connectors</title>", "</head><body>",
        "<table>", "<colgroup>", "<col/>", "<col/>", "</colgroup>", "<tr><th>Name</th><th>Comment</th></tr>",
        "<tr><td>Default HUB01</td><td>&lt;b&gt;Partners&lt;/b&gt; &amp; relays</td></tr>", "</table>",
        "</body></html>",
        "<table>", "<colgroup>", "<col/>", "<col/>", "</colgroup>", "<tr><th>Name</th><th>Enabled</th></tr>",
        "<tr><td>Default HUB01</td><td>True</td></tr>", "</table>"]


def test_it_builds_report_rows_with_new_object_psobject(shell_env):  # noqa: F811
    result = ems(shell_env, "-c", "Get-ReceiveConnector | Sort Name | % { New-Object PSObject -Property @{"
                                  "Connector=$_.Name; Default=($_.Name -like 'Default*')} } | ft -AutoSize")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Connector     Default", "---------     -------", "Client HUB01  False",
                             "Default HUB01 True"]


def test_it_writes_host_text_and_checks_its_colour(shell_env):  # noqa: F811
    result = ems(shell_env, "-c", "Write-Host 'Connectors checked' -ForegroundColor Green; "
                                  "Write-Host 'Oops' -ForegroundColor Pink; New-SendConnector Never -AddressSpaces *")
    assert result.returncode == 1
    assert result.stdout.strip() == "Connectors checked"
    assert result.stderr.startswith("Write-Host : Cannot bind parameter 'ForegroundColor'. Cannot convert value "
                                    "\"Pink\" to type \"System.ConsoleColor\"")
    assert not SendConnector.objects.exists()


def test_it_refuses_read_host_without_a_terminal(shell_env, tmp_path):  # noqa: F811
    script = tmp_path / "ask.ps1"
    script.write_text("$name = Read-Host 'Send connector name'\nNew-SendConnector $name -AddressSpaces *\n")
    result = ems(shell_env, "-f", str(script))
    assert result.returncode == 1
    assert result.stderr.splitlines()[:2] == [
        "Read-Host : Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available. "
        "Give the value in the script or as a variable instead of asking for it.", f"At {script}:1 char:18"]
    assert not SendConnector.objects.exists()


def test_it_asks_read_host_s_question_on_a_terminal(shell_env):  # noqa: F811
    terminal = Terminal(shell_env)
    terminal.expect(PROMPT)
    terminal.type("$name = Read-Host 'Send connector name'; New-SendConnector $name -AddressSpaces *\r")
    terminal.expect("Send connector name: ")
    terminal.type("To Internet\r")
    terminal.expect(PROMPT)
    terminal.type("exit\r")
    assert terminal.exit_code() == 0
    assert list(SendConnector.objects.values_list("name", flat=True)) == ["To Internet"]


def test_it_lists_the_mailboxes_as_users_and_recipients(shell_env):  # noqa: F811
    setup.ensure_mailbox("Ann Beck", "ann@contoso.com", "Passw0rd!")
    setup.ensure_mailbox("Carl Diaz", "carl@contoso.com", "Passw0rd!")
    result = ems(shell_env, stdin="Get-User | ft -AutoSize\n"
                                  "Get-Recipient carl@contoso.com | fl Name,Alias,PrimarySmtpAddress,EmailAddresses\n"
                                  "Get-Recipient ann* | Select -ExpandProperty PrimarySmtpAddress\n"
                                  "Get-User 'Ann Beck' | Select -ExpandProperty WindowsEmailAddress\n"
                                  "Get-Recipient nobody@contoso.com\n")
    assert lines(result) == ["Name      RecipientType", "----      -------------", "Ann Beck  UserMailbox",
                             "Carl Diaz UserMailbox", "Name               : Carl Diaz", "Alias              : carl",
                             "PrimarySmtpAddress : carl@contoso.com", "EmailAddresses     : {SMTP:carl@contoso.com}",
                             "ann@contoso.com", "ann@contoso.com"]
    assert result.returncode == 1
    assert result.stderr.startswith("Get-Recipient : The operation couldn't be performed because object "
                                    "'nobody@contoso.com' couldn't be found on 'this organization'.")


@pytest.mark.parametrize("filter_, error", [
    ("Name -eq 'Client HUB01'", "Where-Object : A parameter cannot be found that matches parameter name 'eq'."),
    ("Enabled", "Where-Object : Cannot bind parameter 'FilterScript'. Cannot convert the value of type "
                "\"System.String\" to type \"System.Management.Automation.ScriptBlock\"."),
])
def test_it_refuses_where_object_s_simplified_form(shell_env, tmp_path, filter_, error):  # noqa: F811
    script = tmp_path / "filter.ps1"
    script.write_text(f"Get-ReceiveConnector | Where-Object {filter_} | Set-ReceiveConnector -Comment changed\n")
    result = ems(shell_env, "-f", str(script))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == error
    assert set(ReceiveConnector.objects.values_list("comment", flat=True)) == {""}


def test_it_formats_calculated_properties_in_tables_and_lists(shell_env):  # noqa: F811
    result = ems(shell_env, stdin="Get-AcceptedDomain | ft Name, @{n='Type';e={$_.DomainType}} -AutoSize\n"
                                  "Get-AcceptedDomain | fl Name, @{Label='Upper'; Expression={$_.Name.ToUpper()}}\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Name        Type", "----        ----", "contoso.com Authoritative",
                             "Name  : contoso.com", "Upper : CONTOSO.COM"]
