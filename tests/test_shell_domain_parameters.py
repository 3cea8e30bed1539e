"""Issue 15, point 5: every Exchange 2010 parameter of the accepted/remote domain, TransportConfig and
TransportServer cmdlets is accepted, stored and shown; what can't take effect here says so in NotAppliedHere."""
from datetime import timedelta

import pytest

from exchange_console.organization.models import AcceptedDomain, RemoteDomain, TransportConfig, TransportServer
from exchange_console.shell.errors import ShellError
from tests.shell_helpers import ems, shell


def test_it_takes_the_issues_examples_and_shows_them(hub):
    ems("Set-TransportConfig -GenerateCopyOfDSNFor 5.7.1,5.7.2 -JournalingReportNdrTo journal@contoso.com "
        "-DomainController dc01.contoso.com")
    ems("New-RemoteDomain Fabrikam -DomainName fabrikam.com -DomainController dc01.contoso.com\n"
        "Set-RemoteDomain Fabrikam -AllowedOOFType InternalLegacy -NDRDiagnosticInfoEnabled $false")
    config, domain = TransportConfig.objects.get(), RemoteDomain.objects.get(name="Fabrikam")
    assert config.generate_copy_of_dsn_for == ["5.7.1", "5.7.2"]
    assert (domain.allowed_oof_type, domain.ndr_diagnostic_info_enabled) == ("InternalLegacy", False)
    shown = ems("Get-TransportConfig | Format-List GenerateCopyOfDSNFor,JournalingReportNdrTo,NotAppliedHere")
    assert "GenerateCopyOfDSNFor  : {5.7.1, 5.7.2}" in shown
    assert "JournalingReportNdrTo: Exchange's journaling isn't part of this transport" in shown
    listed = ems("Get-RemoteDomain Fabrikam -DomainController dc01 | Format-List").splitlines()
    assert [line.split(":")[1].strip() for line in listed if line.startswith("AllowedOOFType ")] == [
        "InternalLegacy"]


def test_it_follows_exchanges_defaults_for_new_remote_domains_and_the_built_in_default(hub):
    ems("New-RemoteDomain Contoso -DomainName contoso.com")
    default, new = RemoteDomain.objects.get(domain_name="*"), RemoteDomain.objects.get(name="Contoso")
    assert (default.auto_reply_enabled, default.auto_forward_enabled, default.character_set,
            default.non_mime_character_set) == (False, False, "iso-8859-1", "iso-8859-1")
    assert (new.auto_reply_enabled, new.auto_forward_enabled, new.character_set, new.allowed_oof_type,
            new.tnef_enabled) == (True, True, "", "External", None)


def test_it_sets_every_remote_domain_parameter(hub):
    ems("New-RemoteDomain Contoso -DomainName contoso.com")
    ems("Set-RemoteDomain Contoso -DisplaySenderName $false -UseSimpleDisplayName $true -NonMimeCharacterSet "
        "utf-8 -TNEFEnabled $true -ByteEncoderTypeFor7BitCharsets UseBase64 -RequiredCharsetCoverage 80 "
        "-PreferredInternetCodePageForShiftJis 50222 -MeetingForwardNotificationEnabled $false "
        "-TrustedMailInboundEnabled $true -TrustedMailOutboundEnabled $true -TargetDeliveryDomain $true "
        "-IsCoexistenceDomain $true")
    domain = RemoteDomain.objects.get(name="Contoso")
    assert (domain.display_sender_name, domain.use_simple_display_name, domain.non_mime_character_set,
            domain.tnef_enabled, domain.byte_encoder_type_for_7bit_charsets, domain.required_charset_coverage,
            domain.preferred_internet_code_page_for_shift_jis, domain.target_delivery_domain) == (
        False, True, "utf-8", True, "UseBase64", 80, "50222", True)
    [record] = shell("Get-RemoteDomain Contoso")
    note = record.get("NotAppliedHere")
    assert "TNEFEnabled: messages always leave as MIME here" in note and "IsCoexistenceDomain" in note
    ems("Set-RemoteDomain Contoso -TNEFEnabled $null")
    assert RemoteDomain.objects.get(name="Contoso").tnef_enabled is None


@pytest.mark.parametrize("command, parameter", [
    ("Set-RemoteDomain Default -AllowedOOFType Internal", "AllowedOOFType"),
    ("Set-RemoteDomain Default -CharacterSet klingon-8", "CharacterSet"),
    ("Set-RemoteDomain Default -RequiredCharsetCoverage 101", "RequiredCharsetCoverage"),
    ("Set-TransportConfig -GenerateCopyOfDSNFor 5.7", "GenerateCopyOfDSNFor"),
    ("Set-TransportConfig -ExternalDsnReportingAuthority 'not a domain'", "ExternalDsnReportingAuthority"),
    ("Set-TransportConfig -JournalingReportNdrTo nobody", "JournalingReportNdrTo"),
    ("Set-TransportServer HUB01 -PoisonThreshold 11", "PoisonThreshold"),
    ("Set-TransportServer HUB01 -ExternalIPAddress 300.1.1.1", "ExternalIPAddress"),
    ("Set-TransportServer HUB01 -PickupDirectoryPath ../elsewhere", "PickupDirectoryPath"),
])
def test_it_refuses_bad_values_naming_the_parameter(hub, command, parameter):
    before = (list(RemoteDomain.objects.values()), list(TransportConfig.objects.values()))
    with pytest.raises(ShellError, match=parameter):
        shell(command)
    assert (list(RemoteDomain.objects.values()), list(TransportConfig.objects.values())) == before


def test_it_sets_the_dsn_and_stored_only_transport_settings(hub):
    ems("Set-TransportConfig -ExternalDsnSendHtml $false -InternalDsnMaxMessageAttachSize 0 "
        "-ExternalDsnReportingAuthority contoso.com -InternalDelayDsnEnabled $false -DSNConversionMode "
        "DoNotConvert -ShadowRedundancyEnabled $false -ShadowHeartbeatTimeoutInterval 00:05:00 "
        "-MaxDumpsterTime 3.00:00:00 -Xexch50Enabled $false -SupervisionTags @{Remove='Allow'} "
        "-ExternalDsnDefaultLanguage en-US")
    config = TransportConfig.objects.get()
    assert (config.external_dsn_send_html, config.internal_dsn_max_message_attach_size,
            config.external_dsn_reporting_authority, config.internal_delay_dsn_enabled,
            config.dsn_conversion_mode, config.shadow_redundancy_enabled,
            config.shadow_heartbeat_timeout_interval, config.max_dumpster_time, config.supervision_tags) == (
        False, 0, "contoso.com", False, "DoNotConvert", False, timedelta(minutes=5), timedelta(days=3),
        ["Reject"])
    note = shell("Get-TransportConfig")[0].get("NotAppliedHere")
    assert "ShadowRedundancyEnabled" not in note and "DSN texts are in English only" in note


def test_it_sets_the_transport_servers_other_parameters(hub):
    ems("Set-TransportServer HUB01 -ExternalIPAddress 192.0.2.25 -PoisonThreshold 5 -QueueMaxIdleTime 00:10:00 "
        "-PickupDirectoryPath $null -ReplayDirectoryPath $null -ConnectivityLogMaxAge 10.00:00:00 "
        "-IntraOrgConnectorSmtpMaxMessagesPerConnection 50 -InternalDNSProtocolOption UseTcpOnly "
        "-MessageTrackingLogSubjectLoggingEnabled $false -IrmLogEnabled $false -DomainController dc01")
    server = TransportServer.objects.get(name="HUB01")
    assert (server.external_ip_address, server.poison_threshold, server.queue_max_idle_time,
            server.pickup_directory_path, server.connectivity_log_max_age,
            server.intra_org_connector_smtp_max_messages_per_connection, server.internal_dns_protocol_option,
            server.message_tracking_log_subject_logging_enabled) == (
        "192.0.2.25", 5, timedelta(minutes=10), "", timedelta(days=10), 50, "UseTcpOnly", False)
    note = shell("Get-TransportServer HUB01")[0].get("NotAppliedHere")
    assert "ExternalIPAddress: the Received header" in note and "Pickup" not in note and "IrmLog" not in note


def test_it_sets_address_book_enabled_by_domain_type(hub):
    ems("New-AcceptedDomain Relay -DomainName relay.contoso.com -DomainType InternalRelay\n"
        "New-AcceptedDomain Fabrikam -DomainName fabrikam.com -DomainController dc01\n"
        "Set-AcceptedDomain Fabrikam -AddressBookEnabled $false -PendingRemoval $true")
    relay, fabrikam = AcceptedDomain.objects.get(name="Relay"), AcceptedDomain.objects.get(name="Fabrikam")
    assert (relay.address_book_enabled, fabrikam.address_book_enabled, fabrikam.pending_removal) == (
        False, False, True)
    assert "PendingRemoval: reserved" in shell("Get-AcceptedDomain Fabrikam")[0].get("NotAppliedHere")


def test_edgesync_takes_the_dsn_settings_to_the_edge(hub):
    from types import SimpleNamespace

    from exchange_console.edge import sync

    ems("Set-TransportConfig -GenerateCopyOfDSNFor 5.7.1 -ExternalDsnSendHtml $false "
        "-ExternalDsnReportingAuthority contoso.com")
    pushed = sync._transport_settings(None)
    sync.digest(pushed)                        # what the push sends is plain JSON
    ems("Set-TransportConfig -GenerateCopyOfDSNFor $null -ExternalDsnSendHtml $true")
    sync._apply_transport_settings(SimpleNamespace(server=SimpleNamespace(name="EDGE01")), pushed)
    config = TransportConfig.objects.get()
    assert (config.generate_copy_of_dsn_for, config.external_dsn_send_html, config.external_dsn_reporting_authority) \
        == (["5.7.1"], False, "contoso.com")
