"""Files named in shell scripts, run end to end through `manage.py ems`: C:\\..., \\\\server\\share\\... and relative
paths map under EMS_FILE_ROOT; CSV, text and byte files are written and read back as PowerShell 2.0 does; a
missing file is PowerShell's error, and no path leads outside the root."""
import pytest
import trustme

from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.organization.models import AcceptedDomain
# shell_env: the ems process's environment
from tests.test_shell_ems_command import ems, output_lines as lines, shell_env  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def root(tmp_path):
    return tmp_path / "files"


@pytest.fixture
def env(shell_env, root):  # noqa: F811
    return {**shell_env, "EMS_FILE_ROOT": str(root)}


def test_it_exports_a_report_to_the_mapped_folder_as_powershell_writes_it(env, root, tmp_path):
    script = tmp_path / "report.ps1"
    script.write_text("Get-ReceiveConnector | Sort Name | Select Name,Enabled,MaxMessageSize |\n"
                      "    Export-Csv -Path C:\\Reports\\receive.csv -NoTypeInformation\n"
                      "Get-AcceptedDomain | Export-Csv \\\\fileserver\\exchange\\domains.csv -Encoding UTF8\n"
                      "Get-AcceptedDomain | Select Name | Out-File .\\domains.txt\n"
                      "Set-Content -Path C:/Reports/notes.txt -Value 'first','second'\n")
    result = ems(env, "-f", str(script))
    assert (result.returncode, result.stderr) == (0, "")
    assert (root / "C" / "Reports" / "receive.csv").read_bytes() == (
        b'"Name","Enabled","MaxMessageSize"\r\n'
        b'"Client HUB01","True","10 MB (10,485,760 bytes)"\r\n'
        b'"Default HUB01","True","10 MB (10,485,760 bytes)"\r\n')
    domains = (root / "UNC" / "fileserver" / "exchange" / "domains.csv").read_bytes()
    assert domains.startswith(b"\xef\xbb\xbf#TYPE Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain"
                              b'\r\n"Identity",')
    text = (root / "C" / "domains.txt").read_bytes()
    assert text.startswith(b"\xff\xfe") and "contoso.com" in text.decode("utf-16")  # Out-File writes Unicode
    assert (root / "C" / "Reports" / "notes.txt").read_bytes() == b"first\r\nsecond\r\n"


def test_it_creates_accepted_domains_from_a_csv_file(env, root):
    (root / "C" / "Import").mkdir(parents=True)
    # Saved as "Unicode text" by a spreadsheet: UTF-16 with a byte order mark
    (root / "C" / "Import" / "domains.csv").write_bytes(
        "\ufeffName,Domain\r\nFabrikam,fabrikam.com\r\nWoodgrove,\"woodgrove.com\"\r\n".encode("utf-16-le"))
    result = ems(env, stdin="Import-Csv C:\\Import\\domains.csv | ForEach-Object {\n"
                            "    New-AcceptedDomain -Name $_.Name -DomainName $_.Domain\n"
                            "} | Out-Null\n"
                            "(Import-Csv -Path 'c:\\IMPORT\\..\\import\\Domains.CSV' | Select -Last 1).Domain\n"
                            "Get-Content C:\\Import\\domains.csv | Select -First 1\n")
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["woodgrove.com", "Name,Domain"]
    assert set(AcceptedDomain.objects.values_list("domain_name", flat=True)) == {
        "contoso.com", "fabrikam.com", "woodgrove.com"}


def test_it_imports_a_certificate_read_as_bytes_from_a_file(env, root, tmp_path, hub):
    (root / "C" / "certs").mkdir(parents=True)
    trustme.CA().issue_cert("mail.contoso.com").private_key_and_cert_chain_pem.write_to_path(
        str(root / "C" / "certs" / "mail.pem"))
    script = tmp_path / "certificate.ps1"
    script.write_text("Import-ExchangeCertificate -Server HUB01 -FileData ([Byte[]]$(Get-Content -Path "
                      "C:\\certs\\mail.pem -Encoding Byte -ReadCount 0)) | Out-Null\n"
                      "$data = [System.IO.File]::ReadAllBytes('C:\\certs\\mail.pem')\n"
                      "Import-ExchangeCertificate -Server HUB01 -Path C:\\certs\\mail.pem | Out-Null\n"
                      "Import-ExchangeCertificate -Server HUB01 -FileData $data | Out-Null\n")
    result = ems(env, "-f", str(script))
    assert (result.returncode, result.stderr) == (0, "")
    assert ExchangeCertificate.objects.get(server=hub, is_self_signed=False).certificate_domains == [
        "mail.contoso.com"]


@pytest.mark.parametrize("script, path", [
    ("Import-Csv C:\\Import\\missing.csv", "C:\\Import\\missing.csv"),
    ("Get-Content -Path \\\\fileserver\\share\\list.txt", "\\\\fileserver\\share\\list.txt"),
    ("cat .\\servers.txt", ".\\servers.txt"),
    ("Import-ExchangeCertificate -Server HUB01 -Path D:\\certs\\mail.pem", "D:\\certs\\mail.pem"),
])
def test_it_reports_a_missing_file_as_powershell_does(env, script, path):
    result = ems(env, "-c", f"{script}; New-AcceptedDomain Never -DomainName never.com")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].endswith(f": Cannot find path '{path}' because it does not exist.")
    assert "Traceback" not in result.stderr
    assert not AcceptedDomain.objects.filter(name="Never").exists()


@pytest.mark.parametrize("path", ["C:\\..\\..\\outside.txt", "..\\outside.txt", "\\\\server\\share\\..\\..\\..\\x.txt",
                                  "C:\\link\\outside.txt"])
def test_it_refuses_a_path_that_leads_outside_the_root(env, root, tmp_path, path):
    (root / "C").mkdir(parents=True)
    (root / "C" / "link").symlink_to(tmp_path)
    result = ems(env, "-c", f"Set-Content -Path '{path}' -Value escaped")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"Set-Content : The path '{path}' leads outside the shell's file root."
    assert not list(tmp_path.rglob("outside.txt")) and not list(tmp_path.rglob("x.txt"))


def test_it_runs_a_report_script_that_exports_then_reads_back_its_figures(env, root, tmp_path):
    script = tmp_path / "sizes.ps1"
    script.write_text(
        "$rows = foreach ($rc in Get-ReceiveConnector) {\n"
        "    New-Object PSObject -Property @{ Name = $rc.Name; MaxMB = $rc.MaxMessageSize.Value.ToMB() }\n"
        "}\n"
        "$file = \"C:\\Reports\\sizes-$((Get-Date -Date '2026-04-30').ToString('yyyyMMdd')).csv\"\n"
        "$rows | Sort-Object Name | Export-Csv -Path $file -NoTypeInformation\n"
        "\"Total: $((Import-Csv $file | Measure-Object -Property MaxMB -Sum).Sum) MB\"\n"
        "$servers = Get-Content C:\\servers.txt -ErrorAction SilentlyContinue\n"
        "if (-not $?) { Write-Host 'No server list' -ForegroundColor Yellow }\n")
    result = ems(env, "-f", str(script))
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["Total: 20 MB", "No server list"]
    assert (root / "C" / "Reports" / "sizes-20260430.csv").read_text() == (
        '"Name","MaxMB"\n"Client HUB01","10"\n"Default HUB01","10"\n')


def test_it_collects_report_rows_in_an_array_then_exports_them(env, root):
    result = ems(env, stdin=(
        "$report = @()\n"
        "$counts = @{}\n"
        "foreach ($rc in Get-ReceiveConnector | Sort-Object Name) {\n"
        "    $report += New-Object PSObject -Property @{ Connector = $rc.Name; Port = $rc.Bindings }\n"
        "    $counts[$rc.Server] = $report.Count\n"
        "}\n"
        "$report | Export-Csv C:\\Reports\\ports.csv -NoTypeInformation\n"
        "$report.Count; $counts.Count; $counts.ContainsKey('hub01'); @().Count\n"))
    assert (result.returncode, result.stderr) == (0, "")
    assert lines(result) == ["2", "1", "True", "0"]
    assert (root / "C" / "Reports" / "ports.csv").read_text() == (
        '"Connector","Port"\n"Client HUB01","0.0.0.0:2587"\n"Default HUB01","0.0.0.0:2025"\n')
