"""Every configuration cmdlet, with the examples of Microsoft's Exchange 2010 reference written from their
documented syntax (only server and domain names adapted), identity forms and Exchange's defaults."""
from datetime import timedelta

import pytest

from exchange_console.connectors.models import ForeignConnector, ReceiveConnector, SendConnector
from exchange_console.organization.models import (
    AcceptedDomain, Mailbox, RemoteDomain, TransportConfig, TransportServer,
)
from exchange_console.shell.engine import Session
from exchange_console.shell.errors import ShellError
from exchange_console.shell.host import BufferHost
from tests.shell_helpers import ems, lines

MB = 1024 * 1024


# --- Send connectors ---------------------------------------------------------------------------------------

def test_it_creates_an_internet_send_connector_as_the_reference_example_does(hub):
    output = ems("New-SendConnector -Internet -Name MySendConnector -AddressSpaces contoso.com,fabrikam.com")
    connector = SendConnector.objects.get(name="MySendConnector")
    assert connector.usage == "Internet"
    assert connector.address_spaces == ["SMTP:contoso.com;1", "SMTP:fabrikam.com;1"]
    assert connector.dns_routing_enabled is True
    assert [server.name for server in connector.source_transport_servers.all()] == ["HUB01"]
    assert lines(output) == ["Identity        AddressSpaces                             Enabled",
                             "--------        -------------                             -------",
                             "MySendConnector {SMTP:contoso.com;1, SMTP:fabrikam.com;1} True"]


def test_it_creates_a_smart_host_connector_with_a_credential_from_get_credential(hub):
    ems('$CredentialObject = Get-Credential\n'
        'New-SendConnector -Name "Secure Email to Contoso.com" -AddressSpaces contoso.com '
        '-AuthenticationCredential $CredentialObject -SmartHostAuthMechanism BasicAuth '
        '-SmartHosts smarthost.contoso.com -DNSRoutingEnabled $false',
        answers=["contoso\\mailrelay", "S3cret!"])
    connector = SendConnector.objects.get(name="Secure Email to Contoso.com")
    assert connector.authentication_credential == ("contoso\\mailrelay", "S3cret!")
    assert (connector.smart_hosts, connector.smart_host_auth_mechanism) == (["smarthost.contoso.com"], "BasicAuth")


def test_it_takes_a_credential_built_with_new_object_in_a_script(hub):
    ems("$pw = ConvertTo-SecureString 'S3cret!' -AsPlainText -Force\n"
        "$cred = New-Object System.Management.Automation.PSCredential('contoso\\relay', $pw)\n"
        "New-SendConnector 'Relay' -AddressSpaces * -SmartHosts 192.168.1.100 -DNSRoutingEnabled $false "
        "-SmartHostAuthMechanism BasicAuthRequireTLS -AuthenticationCredential $cred")
    connector = SendConnector.objects.get(name="Relay")
    assert connector.authentication_credential == ("contoso\\relay", "S3cret!")
    assert connector.smart_hosts == ["[192.168.1.100]"]


def test_it_changes_size_and_timeout_as_the_set_send_connector_example_does(hub):
    ems('New-SendConnector "Contoso.com Send Connector" -AddressSpaces contoso.com')
    ems('Set-SendConnector "Contoso.com Send Connector" -MaxMessageSize 20MB -ConnectionInactivityTimeOut 00:15:00')
    connector = SendConnector.objects.get()
    assert (connector.max_message_size, connector.connection_inactivity_timeout) == (20 * MB, timedelta(minutes=15))
    assert connector.version == 2


def test_it_adds_and_removes_address_spaces_with_a_hash_table(hub):
    ems("New-SendConnector 'To Partners' -AddressSpaces contoso.com,fabrikam.com")
    ems('Set-SendConnector "To Partners" -AddressSpaces @{Add="woodgrovebank.com;5","*.tailspintoys.com"; '
        'Remove="contoso.com"}')
    assert SendConnector.objects.get().address_spaces == [
        "SMTP:fabrikam.com;1", "SMTP:woodgrovebank.com;5", "SMTP:*.tailspintoys.com;1"]


@pytest.mark.parametrize("switch, usage", [("-Custom", "Custom"), ("-Internal", "Internal"),
                                           ("-Internet", "Internet"), ("-Partner", "Partner")])
def test_it_maps_usage_switches_to_usage(hub, switch, usage):
    ems(f"New-SendConnector -Name Out {switch} -AddressSpaces fabrikam.com")
    assert SendConnector.objects.get().usage == usage


def test_it_finds_a_send_connector_by_name_guid_and_wildcard(hub):
    ems("New-SendConnector 'To Internet' -AddressSpaces *; New-SendConnector 'To Fabrikam' -AddressSpaces fabrikam.com")
    guid = SendConnector.objects.get(name="To Internet").guid
    assert lines(ems(f"(Get-SendConnector {guid}).Name; (Get-SendConnector 'to internet').Name")) == [
        "To Internet", "To Internet"]
    assert lines(ems("Get-SendConnector To* | Sort-Object Name | Select-Object -ExpandProperty Name")) == [
        "To Fabrikam", "To Internet"]


def test_it_warns_when_a_set_changes_nothing(hub):
    ems("New-SendConnector Out -AddressSpaces *")
    host = BufferHost()
    Session(host).run("Set-SendConnector Out")
    assert host.warnings == "WARNING: The command completed successfully but no settings of 'Out' have been modified.\n"
    assert SendConnector.objects.get().version == 1


def test_it_removes_a_send_connector_without_asking_when_confirm_is_false(hub):
    ems("New-SendConnector 'Contoso.com Send Connector' -AddressSpaces contoso.com")
    ems('Remove-SendConnector "Contoso.com Send Connector" -Confirm:$false')
    assert not SendConnector.objects.exists()


# --- Receive connectors ------------------------------------------------------------------------------------

def test_it_creates_an_internal_receive_connector_as_the_reference_example_does(hub):
    ems('New-ReceiveConnector -Name "Contoso.com Receive Connector" -Usage Internal -Bindings 10.2.17.1:25 '
        '-RemoteIPRanges 10.2.17.1-10.2.17.255')
    connector = ReceiveConnector.objects.get(name="Contoso.com Receive Connector")
    assert (connector.server.name, connector.bindings, connector.remote_ip_ranges) == (
        "HUB01", ["10.2.17.1:25"], ["10.2.17.1-10.2.17.255"])
    assert connector.permission_groups == ["ExchangeServers", "ExchangeLegacyServers"]
    assert connector.auth_mechanism == ["Tls", "ExchangeServer"]


def test_it_creates_a_custom_receive_connector_with_banner_and_timeouts(hub):
    ems('New-ReceiveConnector -Name "Contoso.com Receive Connector" -Server HUB01 -Custom -Bindings 0.0.0.0:25 '
        '-RemoteIPRanges 192.168.0.1-192.168.0.24,192.168.0.100,192.168.1.0/24 -Banner "220 Contoso.com SMTP" '
        '-ConnectionTimeout 00:15:00 -ConnectionInactivityTimeout 00:02:30 -MaxMessageSize 15MB')
    connector = ReceiveConnector.objects.get(name="Contoso.com Receive Connector")
    assert connector.usage == "Custom"
    assert connector.remote_ip_ranges == ["192.168.0.1-192.168.0.24", "192.168.0.100", "192.168.1.0/24"]
    assert (connector.banner, connector.connection_timeout, connector.connection_inactivity_timeout) == (
        "220 Contoso.com SMTP", timedelta(minutes=15), timedelta(minutes=2, seconds=30))
    assert connector.max_message_size == 15 * MB


def test_it_sets_banner_and_timeout_as_the_set_receive_connector_example_does(hub):
    ems('Set-ReceiveConnector "HUB01\\Default HUB01" -Banner "220 SMTP OK" -ConnectionTimeout 00:15:00')
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    assert (connector.banner, connector.connection_timeout) == ("220 SMTP OK", timedelta(minutes=15))


def test_it_finds_a_receive_connector_by_server_and_name_name_alone_or_guid(second_hub):
    guid = ReceiveConnector.objects.get(name="Client HUB02").guid
    output = ems(f"(Get-ReceiveConnector 'HUB02\\Default HUB02').Identity; (Get-ReceiveConnector 'Client HUB01')"
                 f".Identity; (Get-ReceiveConnector {guid}).Identity")
    assert lines(output) == ["HUB02\\Default HUB02", "HUB01\\Client HUB01", "HUB02\\Client HUB02"]


def test_it_lists_one_servers_receive_connectors_with_server(second_hub):
    assert lines(ems("Get-ReceiveConnector -Server HUB02"))[2:] == [
        "HUB02\\Client HUB02  {0.0.0.0:3587} True", "HUB02\\Default HUB02 {0.0.0.0:3025} True"]


def test_it_lists_the_receive_connectors_of_piped_servers(second_hub):
    assert lines(ems("Get-ExchangeServer HUB02 | Get-ReceiveConnector | Select-Object -ExpandProperty Identity")) == [
        "HUB02\\Client HUB02", "HUB02\\Default HUB02"]
    assert lines(ems("(Get-TransportServer | Get-ReceiveConnector).Count")) == ["4"]


def test_it_refuses_a_name_that_matches_receive_connectors_on_two_servers(second_hub):
    ems("New-ReceiveConnector Relay -Server HUB01 -Bindings 0.0.0.0:2526 -RemoteIPRanges 10.0.0.1\n"
        "New-ReceiveConnector Relay -Server HUB02 -Bindings 0.0.0.0:3526 -RemoteIPRanges 10.0.0.1")
    with pytest.raises(ShellError) as raised:
        ems("Set-ReceiveConnector Relay -Enabled $false")
    assert raised.value.message == "The operation couldn't be performed because 'Relay' matches multiple entries."
    assert not ReceiveConnector.objects.filter(enabled=False).exists()


def test_it_creates_a_client_receive_connector_with_the_client_switch(hub):
    ems("New-ReceiveConnector 'Client Submission' -Client -RemoteIPRanges 0.0.0.0-255.255.255.255")
    connector = ReceiveConnector.objects.get(name="Client Submission")
    assert (connector.usage, connector.bindings, connector.permission_groups) == (
        "Client", ["0.0.0.0:587"], ["ExchangeUsers"])


def test_it_adds_a_permission_group_with_a_hash_table(hub):
    ems('Set-ReceiveConnector "Default HUB01" -PermissionGroups @{Add="AnonymousUsers"} '
        '-AuthMechanism @{Remove="Integrated"}')
    connector = ReceiveConnector.objects.get(name="Default HUB01")
    assert connector.permission_groups == ["AnonymousUsers", "ExchangeUsers", "ExchangeServers",
                                           "ExchangeLegacyServers"]
    assert connector.auth_mechanism == ["Tls", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]


def test_it_removes_a_receive_connector(hub):
    ems("Remove-ReceiveConnector 'HUB01\\Client HUB01' -Confirm:$false")
    assert list(ReceiveConnector.objects.values_list("name", flat=True)) == ["Default HUB01"]


# --- Foreign connectors ------------------------------------------------------------------------------------

def test_it_creates_a_foreign_connector_as_the_reference_example_does(second_hub):
    ems('New-ForeignConnector -Name "Contoso Foreign Connector" -AddressSpaces "X400:c=US;a=Fabrikam;P=Contoso;5" '
        '-SourceTransportServers Hub01,Hub02')
    connector = ForeignConnector.objects.get()
    assert connector.address_spaces == ["X400:c=US;a=Fabrikam;P=Contoso;5"]
    assert [server.name for server in connector.source_transport_servers.order_by("name")] == ["HUB01", "HUB02"]
    assert connector.drop_directory == "Contoso Foreign Connector"


def test_it_sets_and_removes_a_foreign_connector(hub):
    ems("New-ForeignConnector Fax -AddressSpaces 'FAX:*;10'\n"
        "Set-ForeignConnector Fax -DropDirectory 'Fax\\Outbound' -MaxMessageSize 5MB -RelayDsnRequired $true")
    connector = ForeignConnector.objects.get()
    assert (connector.drop_directory, connector.max_message_size, connector.relay_dsn_required) == (
        "Fax\\Outbound", 5 * MB, True)
    ems("Get-ForeignConnector Fax | Remove-ForeignConnector -Confirm:$false")
    assert not ForeignConnector.objects.exists()


# --- Accepted and remote domains ---------------------------------------------------------------------------

def test_it_creates_an_accepted_domain_and_makes_it_the_default(hub):
    ems("New-AcceptedDomain -DomainName Fabrikam.com -DomainType InternalRelay -Name Fabrikam")
    ems("Set-AcceptedDomain -Identity Fabrikam -MakeDefault $true")
    domain = AcceptedDomain.objects.get(name="Fabrikam")
    assert (domain.domain_name, domain.domain_type, domain.default) == ("Fabrikam.com", "InternalRelay", True)
    assert list(AcceptedDomain.objects.filter(default=True)) == [domain]
    assert lines(ems("Get-AcceptedDomain | Sort-Object Name"))[2:] == [
        "contoso.com contoso.com  Authoritative False", "Fabrikam    Fabrikam.com InternalRelay True"]


def test_it_removes_an_accepted_domain_that_is_not_the_default(hub):
    ems("New-AcceptedDomain Fabrikam -DomainName fabrikam.com; Remove-AcceptedDomain Fabrikam -Confirm:$false")
    assert list(AcceptedDomain.objects.values_list("name", flat=True)) == ["contoso.com"]


def test_it_creates_and_sets_a_remote_domain_as_the_reference_examples_do(hub):
    ems("New-RemoteDomain -Name Contoso -DomainName contoso.com")
    ems("Set-RemoteDomain Contoso -AutoReplyEnabled $true -AutoForwardEnabled $true -DeliveryReportEnabled $false")
    domain = RemoteDomain.objects.get(name="Contoso")
    assert (domain.auto_reply_enabled, domain.auto_forward_enabled, domain.delivery_report_enabled) == (
        True, True, False)
    ems("Remove-RemoteDomain Contoso -Confirm:$false")
    assert list(RemoteDomain.objects.values_list("domain_name", flat=True)) == ["*"]


# --- Transport settings, servers, mailboxes -------------------------------------------------------------------

def test_it_edits_the_domain_secure_lists_with_hash_tables(hub):
    ems('Set-TransportConfig -TLSSendDomainSecureList @{Add="contoso.com"}\n'
        "Set-TransportConfig -TLSReceiveDomainSecureList contoso.com,woodgrovebank.com\n"
        'Set-TransportConfig -TLSSendDomainSecureList @{Add="fabrikam.com"} '
        '-TLSReceiveDomainSecureList @{Remove="contoso.com"}')
    config = TransportConfig.objects.get()
    assert config.tls_send_domain_secure_list == ["contoso.com", "fabrikam.com"]
    assert config.tls_receive_domain_secure_list == ["woodgrovebank.com"]


def test_it_sets_the_internal_smtp_servers_and_shows_them(hub):
    ems("Set-TransportConfig -InternalSMTPServers 10.0.0.5,192.168.1.0/24\n"
        'Set-TransportConfig -InternalSMTPServers @{Add="172.16.0.1-172.16.0.9"; Remove="10.0.0.5"}')
    assert TransportConfig.objects.get().internal_smtp_servers == ["192.168.1.0/24", "172.16.0.1-172.16.0.9"]
    assert lines(ems("Get-TransportConfig | Format-List InternalSMTPServers")) == [
        "InternalSMTPServers : {192.168.1.0/24, 172.16.0.1-172.16.0.9}"]


def test_it_refuses_an_internal_smtp_server_that_is_no_address(hub):
    with pytest.raises(ShellError) as refused:
        ems("Set-TransportConfig -InternalSMTPServers 10.0.0.5,edge.contoso.com")
    assert "InternalSMTPServers" in refused.value.message
    assert TransportConfig.objects.get().internal_smtp_servers == []


def test_it_refuses_a_client_receive_connector_on_an_edge(organization):
    from exchange_console.organization import setup

    setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")
    for command in ("New-ReceiveConnector -Name Clients -Client -RemoteIPRanges 10.0.0.0/8",
                    "New-ReceiveConnector -Name Clients -Usage Client -RemoteIPRanges 10.0.0.0/8"):
        with pytest.raises(ShellError) as refused:
            ems(command)
        assert refused.value.message.endswith(
            "Usage: 'Client' isn't valid for a receive connector on the Edge Transport server EDGE01. Use Custom, "
            "Internet, Internal or Partner.")
    assert not ReceiveConnector.objects.exists()


def test_it_sets_transport_limits_and_shows_them(hub):
    ems("Set-TransportConfig -MaxSendSize 20MB -MaxReceiveSize 25MB -MaxRecipientEnvelopeLimit unlimited")
    assert lines(ems("Get-TransportConfig | Format-List Max*")) == [
        "MaxSendSize                : 20 MB (20,971,520 bytes)",
        "MaxReceiveSize             : 25 MB (26,214,400 bytes)",
        "MaxRecipientEnvelopeLimit  : Unlimited",
        "MaxDumpsterSizePerDatabase : 18 MB (18,874,368 bytes)",
        "MaxDumpsterTime            : 7.00:00:00"]


def test_it_sets_retry_and_limits_as_the_set_transport_server_example_does(hub):
    ems("Set-TransportServer -Identity HUB01 -DelayNotificationTimeout 13:00:00 -MaxOutboundConnections 1000 "
        "-MaxPerDomainOutboundConnections 50 -MessageExpirationTimeout 4.00:00:00")
    server = TransportServer.objects.get()
    assert (server.delay_notification_timeout, server.max_per_domain_outbound_connections,
            server.message_expiration_timeout) == (timedelta(hours=13), 50, timedelta(days=4))


def test_it_finds_a_transport_server_by_fqdn_and_lists_exchange_servers(hub):
    assert lines(ems("Get-TransportServer hub01.contoso.com | Format-List Name, Fqdn")) == [
        "Name : HUB01", "Fqdn : hub01.contoso.com"]
    assert lines(ems("Get-ExchangeServer")) == ["Name  Site                    ServerRole",
                                                "----  ----                    ----------",
                                                "HUB01 Default-First-Site-Name HubTransport"]


def test_it_creates_sets_finds_and_removes_a_mailbox(hub):
    ems("New-Mailbox -Name 'Chris Ashton' -PrimarySmtpAddress chris@contoso.com "
        "-Password (ConvertTo-SecureString 'Pa$$w0rd' -AsPlainText -Force)")
    mailbox = Mailbox.objects.get()
    assert mailbox.check_password("Pa$$w0rd")
    ems("Set-Mailbox 'Chris Ashton' -PrimarySmtpAddress chris.ashton@contoso.com")
    assert lines(ems("Get-Mailbox chris.ashton@contoso.com")) == [
        "Name         PrimarySmtpAddress", "----         ------------------",
        "Chris Ashton chris.ashton@contoso.com"]
    ems("Remove-Mailbox 'Chris Ashton' -Confirm:$false")
    assert not Mailbox.objects.exists()


def test_it_lists_every_cmdlet_with_get_command(hub):
    names = lines(ems("Get-Command *-SendConnector | Select-Object -ExpandProperty Name"))
    assert names == ["Get-SendConnector", "New-SendConnector", "Remove-SendConnector", "Set-SendConnector"]
