"""Configuration as code (issue 17, point 4): export_config writes the organization as an EMS script, diff_config
runs a script in a scratch configuration and compares it with the live one, and the admin audit log gives the
organization as it was at an entry and the script that returns to it."""
import io
import re

import pytest
from django.core.management import CommandError, call_command

from exchange_console import services
from exchange_console.accounts.models import AdminAuditEntry, RoleGroup
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, SITE, SITE_LINK, TRANSPORT_CONFIG, TRANSPORT_SERVER,
)
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems
from tests.test_shell_round_trip import FOREIGN, RECEIVE, REMOTE, SEND, SMART_HOST_PASSWORD


@pytest.fixture
def configured(second_hub):
    """An organization with a bit of everything an administrator configures."""
    services.new_object(SITE, {"Name": "Branch", "HubSiteEnabled": True})
    services.new_object(SITE_LINK, {"Name": "Hub-Branch", "Sites": ["Default-First-Site-Name", "Branch"],
                                    "ADCost": 10, "ExchangeCost": 5, "MaxMessageSize": "30MB"})
    services.set_object(TRANSPORT_SERVER, second_hub, {"Site": "Branch", "MaxOutboundConnections": 50,
                                                      "ExternalDNSServers": "10.0.0.53"})
    services.set_object(TRANSPORT_CONFIG, _config(), {"MaxSendSize": "20MB", "TLSSendDomainSecureList": "fabrikam.com"})
    services.new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam", "DomainName": "*.fabrikam.com",
                                          "DomainType": "ExternalRelay"})
    services.new_object(ACCEPTED_DOMAIN, {"Name": "Woodgrove", "DomainName": "woodgrovebank.com", "MakeDefault": True})
    services.new_object(REMOTE_DOMAIN, REMOTE)
    services.new_object(MAILBOX, {"Name": "Chris Ashton", "PrimarySmtpAddress": "chris@contoso.com",
                                  "Password": "Pa$$w0rd"})
    services.new_object(RECEIVE_CONNECTOR, RECEIVE)
    ems("Add-ADPermission 'HUB01\\Partner Inbound' -User 'Chris Ashton' -ExtendedRights ms-Exch-SMTP-Accept-Any-Sender")
    ems("Add-ADPermission 'HUB01\\Partner Inbound' -User 'NT AUTHORITY\\ANONYMOUS LOGON' "
        "-ExtendedRights ms-Exch-SMTP-Submit -Deny")
    services.set_object(RECEIVE_CONNECTOR, _receive("Client HUB02"), {"MaxMessageSize": "35MB", "Banner": "220 hi"})
    services.remove_object(RECEIVE_CONNECTOR, _receive("Default HUB02"))
    services.new_object(SEND_CONNECTOR, SEND)
    services.new_object(SEND_CONNECTOR, {"Name": "Internet", "Usage": "Internet", "AddressSpaces": "*"})
    services.new_object(SEND_CONNECTOR, {"Name": "Back to branch", "LinkedReceiveConnector": "HUB01\\Partner Inbound",
                                         "DNSRoutingEnabled": False, "SmartHosts": "relay.contoso.com",
                                         "SourceTransportServers": "HUB02", "MaxMessageSize": "unlimited"})
    services.new_object(FOREIGN_CONNECTOR, FOREIGN)


def _config():
    from exchange_console.organization.models import TransportConfig
    return TransportConfig.objects.get()


def _receive(name):
    from exchange_console.connectors.models import ReceiveConnector
    return ReceiveConnector.objects.get(name=name)


def run(command, *arguments):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *arguments, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit:
        status = exit.code
    return status, out.getvalue()


@pytest.fixture
def exported(configured, tmp_path):
    path = tmp_path / "organization.ps1"
    call_command("export_config", "--output", str(path))
    return path


def test_it_exports_the_organization_as_a_script_that_recreates_it_exactly(exported):
    status, output = run("diff_config", str(exported))
    assert (status, output) == (0, "The configuration the script makes is the live configuration.\n")


def test_it_writes_secrets_as_placeholders_and_only_what_an_installation_lacks(exported):
    script = exported.read_text()
    lines = script.splitlines()
    assert SMART_HOST_PASSWORD not in script and "Pa$$w0rd" not in script
    assert ("$Credential1 = New-Object System.Management.Automation.PSCredential('contoso\\relay', "
            "(ConvertTo-SecureString '<password>' -AsPlainText -Force))  # SendConnector To Partner") in lines
    assert ("$MailboxPassword1 = ConvertTo-SecureString '<password>' -AsPlainText -Force  # Mailbox Chris Ashton"
            in lines)
    assert ("New-Mailbox -Name 'Chris Ashton' -PrimarySmtpAddress 'chris@contoso.com' -Password $MailboxPassword1"
            in lines)
    assert "Remove-ReceiveConnector 'HUB02\\Default HUB02' -Confirm:$false" in lines
    assert ("Set-ReceiveConnector 'HUB02\\Client HUB02' -Bindings '0.0.0.0:3587' -Banner '220 hi' -MaxMessageSize 35MB"
            in lines)
    assert "New-SendConnector -Name 'Internet' -Usage 'Internet' -AddressSpaces 'SMTP:*;1'" in lines
    assert ("#   manage.py install_server HUB02 --role Hub --fqdn hub02.contoso.com --site \"Default-First-Site-Name\""
            in lines)
    assert "certificates" in script and "New-EdgeSubscription" in script
    assert "Set-TransportServer 'HUB01'" not in script  # nothing of HUB01's own settings changed


def test_it_exports_one_server_and_what_applies_to_it(configured, tmp_path):
    path = tmp_path / "hub02.ps1"
    call_command("export_config", "--server", "hub02", "--output", str(path))
    script = path.read_text()
    assert "Set-TransportServer 'HUB02' -Site 'Branch'" in script and "New-AcceptedDomain -Name 'Fabrikam'" in script
    assert "HUB01" not in script.partition("\n\n")[2]  # nor HUB01's connectors, nor those it is a source of
    assert "'Internet'" in script and "'To Partner'" not in script and "'Back to branch'" not in script
    status, output = run("diff_config", str(path), "--server", "HUB02")
    assert (status, output) == (0, "The configuration the script makes is the live configuration.\n"), output
    assert run("diff_config", str(path))[0] == 1


def test_it_shows_a_changed_setting_parameter_by_parameter(exported):
    services.set_object(SEND_CONNECTOR, _send("Internet"), {"MaxMessageSize": "15MB", "Port": 2525})
    status, output = run("diff_config", str(exported))
    assert status == 1
    assert output.splitlines() == [
        "SendConnector 'Internet':",
        "    Port: live 2525; script 25",
        "    MaxMessageSize: live 15 MB (15,728,640 bytes); script 10 MB (10,485,760 bytes)",
    ]


def _send(name):
    from exchange_console.connectors.models import SendConnector
    return SendConnector.objects.get(name=name)


@pytest.fixture
def olga(hub):
    from tests.test_admin_pages import administrator
    return administrator("olga", RoleGroup.ORGANIZATION_MANAGEMENT)


def test_the_audit_log_gives_the_organization_at_an_entry_and_the_script_back_to_it(configured, olga, tmp_path):
    ems("Set-SendConnector Internet -MaxMessageSize 12MB\n"
        "New-RemoteDomain -Name Woodgrove -DomainName woodgrovebank.com -NDREnabled $false", user=olga)
    entry = AdminAuditEntry.objects.get(cmdlet="New-RemoteDomain")
    at_entry = tmp_path / "at-entry.ps1"
    call_command("export_config", "--output", str(at_entry))

    ems("Set-SendConnector Internet -MaxMessageSize 20MB -Name 'Internet (renamed)' -Port 2525\n"
        "Set-SendConnector 'Internet (renamed)' -Name 'Internet (renamed again)'\n"
        "Set-ReceiveConnector 'HUB01\\Partner Inbound' -Name 'Partners'\n"
        "Remove-RemoteDomain Fabrikam -Confirm:$false\n"
        "Remove-RemoteDomain Woodgrove -Confirm:$false\n"
        "New-AcceptedDomain -Name Tailspin -DomainName tailspintoys.com\n"
        "Set-ReceiveConnector 'HUB01\\Partners' -Banner '220 later' -PermissionGroups AnonymousUsers\n"
        "Add-ADPermission 'HUB01\\Partners' -User 'Chris Ashton' -ExtendedRights ms-Exch-SMTP-Submit\n"
        "Remove-ADPermission 'HUB01\\Partners' -User 'Chris Ashton' "
        "-ExtendedRights ms-Exch-SMTP-Accept-Any-Sender -Confirm:$false\n"
        "Set-TransportConfig -MaxSendSize 30MB\n"
        "Remove-ForeignConnector 'Fax Gateway' -Confirm:$false", user=olga)
    assert run("diff_config", str(at_entry))[0] == 1

    found = ems("Search-AdminAuditLog -Cmdlets New-RemoteDomain | Format-List Identity", user=olga)
    assert f"Identity : {entry.pk}" in found
    then = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in ems(
        f"Get-OrganizationSnapshot {entry.pk} | Where-Object {{ $_.Identity -eq 'Internet' }} | Format-List",
        user=olga).splitlines() if ":" in line}
    assert (then["ObjectClass"], then["MaxMessageSize"], then["Port"]) == (
        "SendConnector", "12 MB (12,582,912 bytes)", "25")

    script = ems(f"Get-OrganizationSnapshot -AuditEntry {entry.pk} -ReturnScript", user=olga)
    assert "Set-SendConnector 'Internet (renamed again)' -Name 'Internet' -Port 25 -MaxMessageSize 12MB" in script
    assert "Set-ReceiveConnector 'HUB01\\Partners' -Name 'Partner Inbound'" in script  # the linked connector's
    ems(script.replace("<password>", "secret"), user=olga)
    assert run("diff_config", str(at_entry)) == (
        0, "The configuration the script makes is the live configuration.\n")


def test_an_unknown_audit_entry_is_refused_by_name(olga):
    with pytest.raises(ShellError, match="object '999999' couldn't be found on 'the admin audit log'"):
        ems("Get-OrganizationSnapshot -AuditEntry 999999", user=olga)


def test_only_the_audit_log_readers_see_the_organization_at_an_entry(olga):
    from tests.test_admin_pages import administrator
    ems("New-RemoteDomain -Name Woodgrove -DomainName woodgrovebank.com", user=olga)
    entry = AdminAuditEntry.objects.get(cmdlet="New-RemoteDomain")
    viewer = administrator("vera", RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT)
    assert "RemoteDomain Woodgrove" in " ".join(ems(f"Get-OrganizationSnapshot {entry.pk} | Format-Table ObjectClass, "
                                                   "Identity", user=viewer).split())
    sam = administrator("sam", RoleGroup.SERVER_MANAGEMENT)
    with pytest.raises(ShellError, match="Access denied: sam isn't allowed to run Get-OrganizationSnapshot"):
        ems(f"Get-OrganizationSnapshot {entry.pk}", user=sam)


def test_it_exports_management_scopes_and_role_group_members(configured, olga, tmp_path):
    from tests.test_admin_pages import administrator
    administrator("kim")
    ems("New-ManagementScope 'Branch servers' -ServerRestrictionFilter \"ServerSite -eq 'Branch'\"\n"
        "Add-RoleGroupMember 'Server Management' -Member kim -CustomConfigWriteScope 'Branch servers'\n"
        "Add-RoleGroupMember 'View-Only Organization Management' -Member kim", user=olga)
    path = tmp_path / "organization.ps1"
    call_command("export_config", "--output", str(path))
    lines = path.read_text().splitlines()
    assert "New-ManagementScope -Name 'Branch servers' -ServerRestrictionFilter 'ServerSite -eq ''Branch'''" in lines
    assert ("Add-RoleGroupMember 'Server Management' -Member 'kim' -CustomConfigWriteScope 'Branch servers'"
            in lines)
    assert "Add-RoleGroupMember 'Organization Management' -Member 'olga'" in lines
    assert run("diff_config", str(path))[0] == 0

    ems("Remove-RoleGroupMember 'View-Only Organization Management' -Member kim -Confirm:$false", user=olga)
    assert run("diff_config", str(path)) == (1, "RoleGroupMember 'View-Only Organization Management': only in the "
                                                "script\n    Member: kim\n    CustomConfigWriteScope: \n")


def test_a_script_that_stops_is_reported_with_its_line_and_nothing_changes(hub, tmp_path):
    path = tmp_path / "broken.ps1"
    path.write_text("Set-TransportConfig -MaxSendSize 1MB\nSet-SendConnector Nowhere -Port 26\n")
    with pytest.raises(CommandError, match=re.escape(f"At {path}:2 char:")) as refused:
        call_command("diff_config", str(path))
    assert refused.value.returncode == 2 and "'Nowhere' couldn't be found" in str(refused.value)
    assert _config().max_send_size == 10 * 1024 * 1024


def test_the_audit_log_page_shows_the_configuration_at_an_entry_and_the_script_back(db, client):
    from django.contrib.auth import get_user_model

    from exchange_console.accounts.models import AdminAuditEntry
    from exchange_console.connectors.schemas import SEND_CONNECTOR
    from exchange_console.organization import setup
    from exchange_console.services import acting_as, new_object, set_object

    setup.install_organization("Contoso", "Default-First-Site-Name")
    setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name")
    olga = get_user_model().objects.create_superuser("olga", "olga@contoso.com", "Corr3ct-Horse!")
    with acting_as(olga, "192.0.2.1"):
        connector = new_object(SEND_CONNECTOR, {"Name": "ISP", "AddressSpaces": "*", "SmartHosts": "smtp.isp.example",
                                                "DNSRoutingEnabled": False})
        set_object(SEND_CONNECTOR, connector, {"MaxMessageSize": "20MB"})
    created = AdminAuditEntry.objects.filter(cmdlet="New-SendConnector").get()
    client.force_login(olga)
    assert f'href="/audit-log/{created.pk}/configuration/"' in client.get("/audit-log/").content.decode()
    page = client.get(f"/audit-log/{created.pk}/configuration/").content.decode()
    assert "The organization after <code>New-SendConnector" in page
    assert "Set-SendConnector &#x27;ISP&#x27; -MaxMessageSize 10MB" in page   # back to before the Set-
    script = client.get(f"/audit-log/{created.pk}/configuration/", {"download": "1"})
    assert script["Content-Disposition"] == f'attachment; filename="return-to-audit-entry-{created.pk}.ps1"'
    assert "Set-SendConnector 'ISP' -MaxMessageSize 10MB" in script.content.decode()


def test_it_exports_coexistence_with_exchange_2003(hub, tmp_path):
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        "New-LegacyExchangeServer EX2003 -Fqdn ex2003.contoso.com -RoutingGroup 'First Routing Group' -Port 2525\n"
        "New-Mailbox Lee -PrimarySmtpAddress lee@contoso.com -Password (ConvertTo-SecureString 'Passw0rd!' "
        "-AsPlainText -Force) -Database 'EX2003\\First Storage Group\\Mailbox Store (EX2003)'\n"
        "New-RoutingGroupConnector Interop -SourceTransportServers HUB01 -TargetTransportServers EX2003 -Cost 5 "
        "-BiDirectional $true")
    path = tmp_path / "organization.ps1"
    call_command("export_config", "--output", str(path))
    lines = path.read_text().splitlines()
    assert ("New-RoutingGroup -Name 'First Routing Group' -AdministrativeGroup 'First Administrative Group' -Legacy"
            in lines)
    assert any(line.startswith("New-RoutingGroupConnector -Name 'Interop'") for line in lines)
    assert run("diff_config", str(path)) == (0, "The configuration the script makes is the live configuration.\n")
    ems("Set-RoutingGroupConnector 'Exchange Routing Group (DWBGZMFD01QNBJR)\\Interop' -Cost 9")
    assert run("diff_config", str(path))[0] == 1


def test_the_audit_log_gives_the_organization_at_a_routing_group_connectors_change(olga):
    ems("New-RoutingGroup 'First Routing Group' -Legacy\n"
        "New-LegacyExchangeServer EX2003 -Fqdn ex2003.contoso.com -RoutingGroup 'First Routing Group'\n"
        "New-RoutingGroupConnector Interop -SourceTransportServers HUB01 -TargetTransportServers EX2003 "
        "-BiDirectional $true", user=olga)
    ems("Set-RoutingGroupConnector 'Exchange Routing Group (DWBGZMFD01QNBJR)\\Interop' -Cost 30", user=olga)
    created = AdminAuditEntry.objects.filter(object_type="RoutingGroupConnector").order_by("pk")
    assert [entry.cmdlet for entry in created] == ["New-RoutingGroupConnector"] * 2 + ["Set-RoutingGroupConnector"]
    # After the first of the pair: that connector, not yet its reciprocal.
    snapshot = ems(f"Get-OrganizationSnapshot {created[0].pk}", user=olga)
    assert "RoutingGroupConnector Exchange Routing Group (DWBGZMFD01QNBJR)\\Interop" in snapshot
    assert "First Routing Group\\Interop" not in snapshot
