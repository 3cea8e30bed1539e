"""`manage.py ems` as an administrator runs it: -c, -f and piped scripts with their exit status, stdout and
stderr; and the interactive prompt on a real pseudo-terminal (confirmation, Get-Credential, continuation
lines, history, Ctrl-D) with tab completion of cmdlets and parameters."""
import getpass
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.connectors.models import SendConnector
from exchange_console.organization.models import AcceptedDomain
from exchange_console.shell.management.commands.ems import completions
from tests.transport_helpers import database_url

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "[PS] C:\\>"

pytestmark = pytest.mark.django_db(transaction=True)  # the ems processes must see committed data


@pytest.fixture
def shell_env(hub, tmp_path):
    """The environment of an ems process that sees this test's committed data, run by an operating-system user
    who has an Organization Management account of the same name (the shell's default administrator)."""
    get_user_model().objects.create_superuser(getpass.getuser(), password="Corr3ct-Horse!")
    return {**ems_environment(), "HOME": str(tmp_path)}


def ems_environment():
    """The environment of an ems process that sees the committed data of this test run's database and folders."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(),
            "EXCHANGE_DATA_DIR": str(settings.EXCHANGE_DATA_DIR), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}


def ems(env, *args, stdin=None):
    return subprocess.run([sys.executable, "manage.py", "ems", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def run_script(env, tmp_path, text, name="script.ps1"):
    """`manage.py ems -f` on a script file holding `text`."""
    script = tmp_path / name
    script.write_text(text, encoding="utf-8")
    return ems(env, "-f", str(script))


def output_lines(result):
    """The non-blank lines an ems process wrote to stdout."""
    return [line for line in result.stdout.splitlines() if line.strip()]


def test_it_runs_a_command_line_and_exits_zero(shell_env):
    result = ems(shell_env, "-c", "Get-ReceiveConnector | Sort-Object Identity; Get-AcceptedDomain | fl Name")
    assert (result.returncode, result.stderr) == (0, "")
    assert [line for line in result.stdout.splitlines() if line.strip()] == [
        "Identity            Bindings       Enabled", "--------            --------       -------",
        "HUB01\\Client HUB01  {0.0.0.0:2587} True", "HUB01\\Default HUB01 {0.0.0.0:2025} True",
        "Name : contoso.com"]


def test_it_stops_at_the_first_error_with_status_one_and_the_error_on_stderr(shell_env):
    result = ems(shell_env, "-c", "New-SendConnector First -AddressSpaces a.com; Get-SendConector; "
                                  "New-SendConnector Third -AddressSpaces c.com")
    assert result.returncode == 1
    assert "First" in result.stdout and "Third" not in result.stdout
    assert result.stderr.splitlines()[0].startswith("The term 'Get-SendConector' is not recognized")
    assert result.stderr.splitlines()[1] == "At line:1 char:63"
    assert list(SendConnector.objects.values_list("name", flat=True)) == ["First"]


def test_it_runs_a_script_file(shell_env, tmp_path):
    script = tmp_path / "connectors.ps1"
    script.write_text("\ufeff# Internet mail for the organization\n"
                      "$name = 'To Internet'\n"
                      "New-SendConnector -Name $name -Internet `\n"
                      "    -AddressSpaces * -MaxMessageSize 25MB\n"
                      "Get-SendConnector | Where-Object { $_.MaxMessageSize -gt 20MB } | "
                      "Set-SendConnector -Comment \"Set by $name script\"\n")
    result = ems(shell_env, "-f", str(script))
    assert (result.returncode, result.stderr) == (0, "")
    connector = SendConnector.objects.get()
    assert (connector.usage, connector.comment) == ("Internet", "Set by To Internet script")


def test_it_names_the_script_and_line_of_an_error(shell_env, tmp_path):
    script = tmp_path / "broken.ps1"
    script.write_text("Get-SendConnector\nSet-TransportConfig -MaxSendSize lots\n")
    result = ems(shell_env, "-f", str(script))
    assert result.returncode == 1
    assert result.stderr.splitlines()[:2] == [
        "Set-TransportConfig : MaxSendSize: 'lots' is not a size; use a number with B, KB, MB, GB or TB, or "
        "'unlimited'", f"At {script}:2 char:20"]


def test_it_reports_a_missing_script(shell_env, tmp_path):
    result = ems(shell_env, "-f", str(tmp_path / "missing.ps1"))
    assert result.returncode == 1
    assert "missing.ps1' can't be read" in result.stderr


def test_it_runs_a_script_piped_to_it(shell_env):
    result = ems(shell_env, stdin="New-AcceptedDomain Fabrikam -DomainName fabrikam.com\n"
                                  "(Get-AcceptedDomain).Count\n")
    assert (result.returncode, result.stdout.split()[-1]) == (0, "2")


def test_it_ends_with_the_status_exit_gives(shell_env):
    result = ems(shell_env, stdin="Get-AcceptedDomain | Out-Null\nexit 3\n"
                                  "New-AcceptedDomain Never -DomainName never.com\n")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (3, "", "")
    assert not AcceptedDomain.objects.filter(name="Never").exists()
    assert ems(shell_env, "-c", "if-this-ran-it-would-fail; exit 0").returncode == 1
    assert ems(shell_env, "-c", "Get-SendConnector; exit").returncode == 0


def test_it_refuses_to_remove_without_a_terminal_unless_confirm_is_false(shell_env):
    ems(shell_env, "-c", "New-SendConnector Out -AddressSpaces *")
    refused = ems(shell_env, "-c", "Remove-SendConnector Out")
    assert refused.returncode == 1
    assert "NonInteractive mode" in refused.stderr and "-Confirm:$false" in refused.stderr
    assert SendConnector.objects.exists()
    removed = ems(shell_env, "-c", "Remove-SendConnector Out -Confirm:$false")
    assert (removed.returncode, SendConnector.objects.exists()) == (0, False)


def test_it_acts_as_a_console_administrator_with_user(shell_env):
    olga = get_user_model().objects.create_user("olga", password="Corr3ct-Horse!")
    RoleGroupMember.objects.create(user=olga, role_group=RoleGroup.named(RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT))
    refused = ems(shell_env, "--user", "olga", "-c", "New-SendConnector Out -AddressSpaces *")
    assert refused.returncode == 1
    assert refused.stderr.startswith("New-SendConnector : Access denied: olga isn't allowed to run New-SendConnector")
    entry = AdminAuditEntry.objects.get()
    assert (entry.caller, entry.origin, entry.succeeded) == ("olga", "EMS", False)
    unknown = ems(shell_env, "--user", "nobody", "-c", "Get-SendConnector")
    assert unknown.returncode == 1 and "There is no console administrator named 'nobody'." in unknown.stderr


class Terminal:
    """`manage.py ems` on a pseudo-terminal of its own, as an administrator's session."""

    def __init__(self, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the shell
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "manage.py", "ems"], env)
        self.seen = ""

    def expect(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never appeared; the terminal shows {self.seen!r}"
            if select.select([self.fd], [], [], remaining)[0]:
                try:
                    self.seen += os.read(self.fd, 4096).decode(errors="replace")
                except OSError:  # the shell exited
                    break
        assert text in self.seen, f"{text!r} never appeared; the terminal shows {self.seen!r}"
        shown, self.seen = self.seen.split(text, 1)
        return shown

    def type(self, text):
        os.write(self.fd, text.encode())

    def exit_code(self):
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def test_it_gives_an_interactive_prompt_with_confirmation_credentials_and_history(shell_env, tmp_path):
    terminal = Terminal(shell_env)
    terminal.expect(PROMPT)
    terminal.type("Get-AcceptedDomain\r")
    assert "contoso.com contoso.com Authoritative True" in terminal.expect(PROMPT)

    terminal.type("$cred = Get-Credential\r")
    terminal.expect("User: ")
    terminal.type("contoso\\relay\r")
    terminal.expect("Password for user contoso\\relay: ")
    terminal.type("S3cret!\r")
    terminal.expect(PROMPT)
    terminal.type("New-SendConnector Relay -AddressSpaces * -SmartHosts relay.contoso.com `\r")
    terminal.expect(">> ")
    terminal.type("  -DNSRoutingEnabled $false -SmartHostAuthMechanism BasicAuth -AuthenticationCredential $cred\r")
    terminal.expect(PROMPT)
    assert SendConnector.objects.get().authentication_credential == ("contoso\\relay", "S3cret!")

    terminal.type("Remove-SendConnector Relay\r")
    assert 'Removing Send connector "Relay".' in terminal.expect('(default is "Y"): ')
    terminal.type("n\r")
    terminal.expect(PROMPT)
    assert SendConnector.objects.exists()
    terminal.type("Get-Nothing\r")
    assert "The term 'Get-Nothing' is not recognized" in terminal.expect(PROMPT)

    terminal.type("\x04")  # Ctrl-D leaves, like the end of input
    assert terminal.exit_code() == 0
    history = (tmp_path / ".ems_history").read_text()
    assert "Get-AcceptedDomain" in history and "Remove-SendConnector Relay" in history
    assert "S3cret!" not in history


@pytest.mark.parametrize("line, text, expected", [
    ("Get-SendCon", "Get-SendCon", ["Get-SendConnector"]),
    ("Get-SendConnector | set-send", "set-send", ["Set-SendConnector"]),
    ("New-SendConnector Out -Addr", "-Addr", ["-AddressSpaces"]),
    ("Set-ReceiveConnector x -MaxInbound", "-MaxInbound", [
        "-MaxInboundConnection", "-MaxInboundConnectionPerSource", "-MaxInboundConnectionPercentagePerSource"]),
    ("New-SendConnector Out ", "", []),
])
def test_it_completes_cmdlet_and_parameter_names(line, text, expected):
    assert completions(line, text) == expected


def test_without_user_it_acts_as_the_operating_system_users_account(shell_env):
    result = ems(shell_env, "-c", "New-AcceptedDomain Fabrikam -DomainName fabrikam.com")
    assert (result.returncode, result.stderr) == (0, "")
    entry = AdminAuditEntry.objects.get(cmdlet="New-AcceptedDomain")
    assert (entry.caller, entry.origin) == (getpass.getuser(), "EMS")


def test_it_refuses_an_unknown_administrator_or_one_in_no_role_group(shell_env):
    unknown = ems(shell_env, "--user", "nobody-here", "-c", "Get-AcceptedDomain")
    assert unknown.returncode != 0 and "There is no console administrator named 'nobody-here'" in unknown.stderr
    get_user_model().objects.create_user("oscar", password="Corr3ct-Horse!")
    outsider = ems(shell_env, "--user", "oscar", "-c", "Get-AcceptedDomain")
    assert outsider.returncode != 0 and "'oscar' isn't a member of any management role group" in outsider.stderr
