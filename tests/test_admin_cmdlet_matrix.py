"""Every cmdlet, for each role group: reads for every member, each change only for the role groups that grant
it, refused for the others with an access-denied error and nothing changed. A new cmdlet must be added here."""
import re
from datetime import timedelta

import pytest
import trustme
from django.contrib.auth import get_user_model
from django.utils import timezone

from exchange_console.accounts.models import AdminAuditEntry, RoleGroup, RoleGroupMember
from exchange_console.connectors.schemas import (
    FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, ROUTING_GROUP_CONNECTOR, SEND_CONNECTOR,
)
from exchange_console.edge.subscription_file import SubscriptionFile
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, LEGACY_EXCHANGE_SERVER, MAILBOX, REMOTE_DOMAIN, ROUTING_GROUP,
)
from exchange_console.services import acting_as, new_object
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from exchange_console.shell.registry import CMDLETS
from tests.queue_data import add_queued_messages

ROLES = {"org": RoleGroup.ORGANIZATION_MANAGEMENT, "viewer": RoleGroup.VIEW_ONLY_ORGANIZATION_MANAGEMENT,
         "server": RoleGroup.SERVER_MANAGEMENT, "recipients": RoleGroup.RECIPIENT_MANAGEMENT}
ORG, SERVER, RECIPIENTS = {"org"}, {"org", "server"}, {"org", "recipients"}
PEM = trustme.CA().issue_cert("hub01.contoso.com").private_key_and_cert_chain_pem.bytes().decode()
SUBSCRIPTION_FILE = SubscriptionFile(
    edge_name="EDGE01", edge_fqdn="edge01.contoso.com",
    certificate_pem=trustme.CA().issue_cert("edge01.contoso.com").cert_chain_pems[0].bytes().decode(),
    account="ESRA.EDGE01", password="bootstrap", effective=timezone.now(), duration=timedelta(days=1),
    edgesync_port=50636, smtp_port=25).to_xml().decode()

# Cmdlets that change nothing: allowed to every member of a role group.
READS = {
    "Get-AcceptedDomain": "Get-AcceptedDomain", "Get-ExchangeCertificate": "Get-ExchangeCertificate",
    "Get-ExchangeServer": "Get-ExchangeServer", "Get-ForeignConnector": "Get-ForeignConnector",
    "Get-Mailbox": "Get-Mailbox", "Get-Message": "Get-Message", "Get-MessageTrackingLog": "Get-MessageTrackingLog",
    "Get-Queue": "Get-Queue", "Get-ReceiveConnector": "Get-ReceiveConnector", "Get-RemoteDomain": "Get-RemoteDomain",
    "Get-SendConnector": "Get-SendConnector", "Get-TransportConfig": "Get-TransportConfig",
    "Get-TransportServer": "Get-TransportServer", "Get-Command": "Get-Command Get-Queue",
    "Get-ADPermission": "Get-ADPermission 'HUB01\\Printers'",
    "ConvertTo-SecureString": "ConvertTo-SecureString 'x' -AsPlainText -Force",
    "New-Object": "New-Object System.Management.Automation.PSCredential('u', (ConvertTo-SecureString 'p' -AsPlainText -Force))",
    "Format-List": "Get-AcceptedDomain | Format-List", "Format-Table": "Get-AcceptedDomain | Format-Table",
    "Measure-Object": "Get-AcceptedDomain | Measure-Object", "Select-Object": "Get-AcceptedDomain | Select-Object Name",
    "Sort-Object": "Get-AcceptedDomain | Sort-Object Name", "Where-Object": "Get-AcceptedDomain | Where-Object { $_.Default }",
    "Write-Host": "Write-Host hello", "Write-Output": "Write-Output hello", "Out-Null": "Get-AcceptedDomain | Out-Null",
    "Get-User": "Get-User", "Get-Recipient": "Get-Recipient", "Get-Date": "Get-Date",
    "Get-MailRoute": "Get-MailRoute -Recipient ann@contoso.com -Size 1MB",
    "Get-EdgeSubscription": "Get-EdgeSubscription", "Get-EdgeSyncServiceConfig": "Get-EdgeSyncServiceConfig",
    "Get-RoleGroup": "Get-RoleGroup", "Get-RoleGroupMember": "Get-RoleGroupMember 'Organization Management'",
    "Get-ManagementScope": "Get-ManagementScope", "Get-AdSite": "Get-AdSite", "Get-AdSiteLink": "Get-AdSiteLink",
    "Get-RoutingGroup": "Get-RoutingGroup", "Get-LegacyExchangeServer": "Get-LegacyExchangeServer",
    "Get-RoutingGroupConnector": "Get-RoutingGroupConnector",
    "ForEach-Object": "Get-AcceptedDomain | ForEach-Object { $_.Name }",
    "Group-Object": "Get-AcceptedDomain | Group-Object DomainType", "Out-String": "Get-AcceptedDomain | Out-String",
    "ConvertTo-Html": "Get-AcceptedDomain | ConvertTo-Html",
    # PowerShell's file cmdlets write in the shell's folder (EMS_FILE_ROOT), not the organization's configuration.
    "Export-Csv": "Get-AcceptedDomain | Export-Csv C:\\matrix\\domains.csv",
    "Import-Csv": "Get-AcceptedDomain | Export-Csv C:\\matrix\\domains.csv; Import-Csv C:\\matrix\\domains.csv",
    "Out-File": "Get-AcceptedDomain | Out-File C:\\matrix\\domains.txt",
    "Set-Content": "Set-Content C:\\matrix\\notes.txt -Value first",
    "Add-Content": "Add-Content C:\\matrix\\notes.txt -Value more",
    "Get-Content": "Set-Content C:\\matrix\\notes.txt -Value first; Get-Content C:\\matrix\\notes.txt",
}
# They need an Edge subscribed and a Hub worker to answer: tests/test_edge_transport.py runs them, and
# tests/test_shell_edge_subscription.py checks who may start a synchronization.
EDGESYNC_RUNS = {"Start-EdgeSynchronization", "Test-EdgeSynchronization"}
NOT_RUN = {"Get-Credential", "Read-Host"}   # prompt on a terminal; their runs are in test_shell_ems_command.py and
# test_shell_utility_cmdlets.py
AUDIT_READERS = {"org", "viewer"}

# Cmdlets that change something: (command line, role groups allowed).
CHANGES = {
    "New-SendConnector": ("New-SendConnector Fresh -AddressSpaces fresh.example", ORG),
    "Set-SendConnector": ("Set-SendConnector Out -MaxMessageSize 20MB", ORG),
    "Remove-SendConnector": ("Remove-SendConnector Out -Confirm:$false", ORG),
    "New-ForeignConnector": ("New-ForeignConnector Fax -AddressSpaces 'FAX:*;1'", ORG),
    "Set-ForeignConnector": ("Set-ForeignConnector Gateway -Comment checked", ORG),
    "Remove-ForeignConnector": ("Remove-ForeignConnector Gateway -Confirm:$false", ORG),
    "New-ReceiveConnector": ("New-ReceiveConnector Relay -Server HUB01 -Custom -Bindings 0.0.0.0:2600 "
                             "-RemoteIPRanges 10.0.0.5", SERVER),
    "Set-ReceiveConnector": ("Set-ReceiveConnector 'HUB01\\Default HUB01' -Banner '220 Welcome'", SERVER),
    "Remove-ReceiveConnector": ("Remove-ReceiveConnector 'HUB01\\Printers' -Confirm:$false", SERVER),
    # Exchange's Active Directory Permissions role is Organization Management's alone; the fixture has no entry
    # to remove, so the removal first adds one (refused for the other role groups).
    "Add-ADPermission": ("Add-ADPermission 'HUB01\\Printers' -User 'NT AUTHORITY\\ANONYMOUS LOGON' "
                         "-ExtendedRights ms-Exch-SMTP-Accept-Any-Recipient", ORG),
    "Remove-ADPermission": ("Add-ADPermission 'HUB01\\Printers' -User 'NT AUTHORITY\\ANONYMOUS LOGON' "
                            "-ExtendedRights ms-Exch-SMTP-Submit; Remove-ADPermission 'HUB01\\Printers' "
                            "-User 'NT AUTHORITY\\ANONYMOUS LOGON' -ExtendedRights ms-Exch-SMTP-Submit "
                            "-Confirm:$false", ORG),
    "New-AcceptedDomain": ("New-AcceptedDomain Fabrikam -DomainName fabrikam.com", ORG),
    "Set-AcceptedDomain": ("Set-AcceptedDomain Tailspin -DomainType InternalRelay", ORG),
    "Remove-AcceptedDomain": ("Remove-AcceptedDomain Tailspin -Confirm:$false", ORG),
    "New-RemoteDomain": ("New-RemoteDomain Partner -DomainName partner.example", ORG),
    "Set-RemoteDomain": ("Set-RemoteDomain Northwind -NDREnabled $false", ORG),
    "Remove-RemoteDomain": ("Remove-RemoteDomain Northwind -Confirm:$false", ORG),
    "New-Mailbox": ("New-Mailbox Kim -PrimarySmtpAddress kim@contoso.com "
                    "-Password (ConvertTo-SecureString 'P@ssw0rd!' -AsPlainText -Force)", RECIPIENTS),
    "Set-Mailbox": ("Set-Mailbox Ann -PrimarySmtpAddress ann.b@contoso.com", RECIPIENTS),
    "Remove-Mailbox": ("Remove-Mailbox Ann -Confirm:$false", RECIPIENTS),
    "Set-TransportConfig": ("Set-TransportConfig -MaxSendSize 20MB", ORG),
    # Edge subscriptions and EdgeSync's settings: Organization Management's (Exchange's Edge Subscriptions role).
    "New-EdgeSubscription": (f"New-EdgeSubscription -FileData '{SUBSCRIPTION_FILE}' -Site Default-First-Site-Name", ORG),
    "Remove-EdgeSubscription": (f"New-EdgeSubscription -FileData '{SUBSCRIPTION_FILE}' -Site Default-First-Site-Name;"
                                " Remove-EdgeSubscription EDGE01 -Confirm:$false", ORG),
    "Set-EdgeSyncServiceConfig": ("Set-EdgeSyncServiceConfig Default-First-Site-Name -RecipientSyncInterval 00:10:00",
                                  ORG),
    # Sites and site links: Exchange's Transport configuration role (Organization Management's).
    "New-AdSite": ("New-AdSite Branch", ORG),
    "Set-AdSite": ("Set-AdSite Default-First-Site-Name -HubSiteEnabled $true", ORG),
    "New-AdSiteLink": ("New-AdSiteLink Backbone -Sites Default-First-Site-Name", ORG),
    "Set-AdSiteLink": ("Set-AdSiteLink DEFAULTIPSITELINK -ExchangeCost 25", ORG),
    "Remove-AdSiteLink": ("Remove-AdSiteLink DEFAULTIPSITELINK -Confirm:$false", ORG),
    # Coexistence with Exchange 2003: Exchange's Legacy Exchange Support and Transport configuration roles
    # (Organization Management's).
    "New-RoutingGroup": ("New-RoutingGroup 'Second Routing Group' -Legacy", ORG),
    "Remove-RoutingGroup": ("Remove-RoutingGroup 'Empty Routing Group' -Confirm:$false", ORG),
    "New-LegacyExchangeServer": ("New-LegacyExchangeServer EX2003B -Fqdn ex2003b.contoso.com "
                                 "-RoutingGroup 'First Routing Group'", ORG),
    "Set-LegacyExchangeServer": ("Set-LegacyExchangeServer EX2003 -Port 2525", ORG),
    "Remove-LegacyExchangeServer": ("Remove-LegacyExchangeServer EX2003C -Confirm:$false", ORG),
    "New-RoutingGroupConnector": ("New-RoutingGroupConnector Fresh -SourceTransportServers HUB01 "
                                  "-TargetTransportServers EX2003 -BiDirectional $true", ORG),
    "Set-RoutingGroupConnector": ("Set-RoutingGroupConnector Interop -Cost 10", ORG),
    "Remove-RoutingGroupConnector": ("Remove-RoutingGroupConnector Interop -Confirm:$false", ORG),
    "Set-TransportServer": ("Set-TransportServer HUB01 -MessageRetryInterval 00:02:00", SERVER),
    "Import-ExchangeCertificate": (f"Import-ExchangeCertificate -Server HUB01 -FileData '{PEM}'", SERVER),
    "Enable-ExchangeCertificate": ("Get-ExchangeCertificate -Server HUB01 | Enable-ExchangeCertificate -Services SMTP",
                                   SERVER),
    "Retry-Queue": ("Get-Queue | Retry-Queue", SERVER),
    "Suspend-Queue": ("Get-Queue | Suspend-Queue", SERVER),
    "Resume-Queue": ("Get-Queue | Resume-Queue", SERVER),
    "Suspend-Message": ("Get-Message | Suspend-Message", SERVER),
    "Resume-Message": ("Get-Message | Resume-Message", SERVER),
    "Remove-Message": ("Get-Message | Remove-Message -WithNDR $false -Confirm:$false", SERVER),
    # A message's content is more than Get-Message shows: Exchange's Transport Queues role, not View-Only's.
    "Export-Message": ("Get-Message | Export-Message", SERVER),
    # Memberships and scopes are Organization Management's, as on the Administrators page. The fixture has no
    # member to remove, so the removals first add one (refused for the other role groups).
    "Add-RoleGroupMember": ("Add-RoleGroupMember 'Recipient Management' -Member org", ORG),
    "Remove-RoleGroupMember": ("Add-RoleGroupMember 'Recipient Management' -Member org; "
                               "Remove-RoleGroupMember 'Recipient Management' -Member org -Confirm:$false", ORG),
    "New-ManagementScope": ("New-ManagementScope 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}", ORG),
    "Remove-ManagementScope": ("New-ManagementScope 'HUB01 only' -ServerRestrictionFilter {Name -eq 'HUB01'}; "
                               "Remove-ManagementScope 'HUB01 only' -Confirm:$false", ORG),
}
# Allowed, and then refused by the server the change reaches: here no worker runs HUB01 to read its queue store.
NO_WORKER = {"Export-Message": "couldn't be exported: HUB01: The transport worker is not running."}


@pytest.fixture
def world(hub):
    new_object(SEND_CONNECTOR, {"Name": "Out", "AddressSpaces": "*"})
    new_object(FOREIGN_CONNECTOR, {"Name": "Gateway", "AddressSpaces": "X400:c=US;1"})
    new_object(RECEIVE_CONNECTOR, {"Name": "Printers", "Bindings": "0.0.0.0:2700", "RemoteIPRanges": "10.0.0.9"})
    new_object(ACCEPTED_DOMAIN, {"Name": "Tailspin", "DomainName": "tailspintoys.com"})
    new_object(REMOTE_DOMAIN, {"Name": "Northwind", "DomainName": "northwind.example"})
    new_object(MAILBOX, {"Name": "Ann", "PrimarySmtpAddress": "ann@contoso.com", "Password": "P@ssw0rd!"})
    for group in ("First Routing Group", "Empty Routing Group"):
        new_object(ROUTING_GROUP, {"Name": group})
    for name in ("EX2003", "EX2003C"):
        new_object(LEGACY_EXCHANGE_SERVER, {"Name": name, "Fqdn": f"{name.lower()}.contoso.com",
                                            "RoutingGroup": "First Routing Group"})
    new_object(ROUTING_GROUP_CONNECTOR, {"Name": "Interop", "SourceTransportServers": "HUB01",
                                         "TargetTransportServers": "EX2003"})
    add_queued_messages(hub, 1, queues=1)
    return hub


def administrator(persona, hub):
    user = get_user_model().objects.create_user(persona, password="Corr3ct-Horse!")
    member = RoleGroupMember.objects.create(user=user, role_group=RoleGroup.named(ROLES[persona]))
    if persona == "server":
        member.servers.set([hub])
    return user


def test_the_matrix_names_every_cmdlet():
    named = set(READS) | set(CHANGES) | NOT_RUN | EDGESYNC_RUNS | {"Search-AdminAuditLog", "Get-OrganizationSnapshot"}
    assert named == {cmdlet.name for cmdlet in CMDLETS}


@pytest.mark.parametrize("persona", sorted(ROLES))
def test_every_member_may_run_every_read(world, persona):
    with acting_as(administrator(persona, world), "EMS"):
        for name, line in READS.items():
            Session(BufferHost()).run(line)           # raises on any refusal
        if persona in AUDIT_READERS:
            Session(BufferHost()).run("Search-AdminAuditLog")
        else:
            with pytest.raises(ShellError, match="Access denied: .* isn't allowed to run Search-AdminAuditLog"):
                Session(BufferHost()).run("Search-AdminAuditLog")
    assert not AdminAuditEntry.objects.filter(succeeded=True).exists()


@pytest.mark.parametrize("persona", sorted(ROLES))
@pytest.mark.parametrize("cmdlet", sorted(CHANGES))
def test_each_change_runs_exactly_for_the_role_groups_that_grant_it(world, persona, cmdlet):
    line, allowed = CHANGES[cmdlet]
    with acting_as(administrator(persona, world), "EMS"):
        if persona in allowed:
            if cmdlet in NO_WORKER:   # allowed, and recorded as failed: the server couldn't answer
                with pytest.raises(ShellError, match=re.escape(NO_WORKER[cmdlet])):
                    Session(BufferHost()).run(line)
                assert AdminAuditEntry.objects.get(cmdlet=cmdlet, succeeded=False).error.endswith(NO_WORKER[cmdlet])
            else:
                Session(BufferHost()).run(line)
                assert AdminAuditEntry.objects.filter(cmdlet=cmdlet, succeeded=True).exists()
        else:
            with pytest.raises(ShellError, match=f"Access denied: {persona} isn't allowed to run"):
                Session(BufferHost()).run(line)
            assert not AdminAuditEntry.objects.filter(succeeded=True).exists()
