"""Point 7: for every New-/Set- cmdlet, the command line render_command gives for a change, run by the shell,
makes the same object as the change made directly through the service layer. Secrets render masked for
display; a script names a shell variable for them instead, set with the PSCredential/SecureString forms."""
from contextlib import contextmanager

import pytest
from django.db import transaction

from exchange_console import services
from exchange_console.connectors.schemas import FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER,
)
from exchange_console.params import shell_quote
from exchange_console.shell.engine import Session
from exchange_console.shell.host import BufferHost
from exchange_console.shell.parser import parse
from exchange_console.shell.render import render_command

NOT_COMPARED = {"Identity", "Guid", "WhenChanged", "WhenCreated", "Password"}
SMART_HOST_PASSWORD = "S3cret'pw with `backtick and $dollar"
MAILBOX_PASSWORD = "Pa$$w0rd'"
CREDENTIAL_SCRIPT = (f"$credential = New-Object System.Management.Automation.PSCredential('contoso\\relay', "
                     f"(ConvertTo-SecureString {shell_quote(SMART_HOST_PASSWORD)} -AsPlainText -Force))")
PASSWORD_SCRIPT = f"$password = ConvertTo-SecureString {shell_quote(MAILBOX_PASSWORD)} -AsPlainText -Force"

SEND = {
    "Name": "To Partner", "Usage": "Internal", "AddressSpaces": ["SMTP:contoso.net;2", "*.fabrikam.com"],
    "IsScopedConnector": True, "DNSRoutingEnabled": False, "SmartHosts": ["relay.contoso.com", "192.168.1.100"],
    "SmartHostAuthMechanism": "BasicAuthRequireTLS", "UseExternalDNSServersEnabled": True,
    "AuthenticationCredential": ("contoso\\relay", SMART_HOST_PASSWORD), "Port": 587, "Fqdn": "mail.contoso.com",
    "MaxMessageSize": "25MB", "ConnectionInactivityTimeOut": "00:15:00", "ProtocolLoggingLevel": "Verbose",
    "RequireTLS": True, "IgnoreSTARTTLS": False, "TlsAuthLevel": "DomainValidation",
    "TlsDomain": "relay.contoso.com", "ForceHELO": True, "ErrorPolicies": ["DowngradeDnsFailures", "UpgradeCustomFailures"],
    "SourceIPAddress": "127.0.0.2", "IsCoexistenceConnector": True, "RequireOorg": True,
    "SmtpMaxMessagesPerConnection": 50, "SourceTransportServers": ["HUB01"], "Enabled": False,
    "Comment": 'It\'s a "test" with $dollar, `backtick; and a semicolon',
}
RECEIVE = {
    "Name": "Partner Inbound", "Server": "HUB01", "Usage": "Partner", "Bindings": ["0.0.0.0:2526", "[::]:2526"],
    "RemoteIPRanges": ["192.168.0.1-192.168.0.24", "10.1.0.0/16", "2001:db8::1"], "Fqdn": "mx.contoso.com",
    "Banner": "220 Contoso ready", "PermissionGroups": ["Partners", "AnonymousUsers"],
    "AuthMechanism": ["Tls", "BasicAuth", "BasicAuthRequireTLS"], "Enabled": True, "Comment": "partners",
    "ProtocolLoggingLevel": "Verbose", "MaxMessageSize": "20MB", "MaxHeaderSize": "128KB",
    "MaxRecipientsPerMessage": 500, "MaxHopCount": 40, "MaxLocalHopCount": 4, "MaxInboundConnection": "unlimited",
    "MaxInboundConnectionPerSource": 50, "MaxInboundConnectionPercentagePerSource": 5,
    "ConnectionTimeout": "1.00:00:00", "ConnectionInactivityTimeout": "00:02:30", "MessageRateLimit": 600,
    "MessageRateSource": "User", "TarpitInterval": "00:00:00", "MaxProtocolErrors": "unlimited",
    "MaxLogonFailures": 5, "SizeEnabled": "EnabledWithoutValue", "EightBitMimeEnabled": False,
    "PipeliningEnabled": False, "ChunkingEnabled": False, "BinaryMimeEnabled": False,
    "DeliveryStatusNotificationEnabled": False, "EnhancedStatusCodesEnabled": False, "RequireEHLODomain": True,
    "RequireTLS": True, "DomainSecureEnabled": True, "BareLinefeedRejectionEnabled": True,
    "LongAddressesEnabled": True, "OrarEnabled": True, "SuppressXAnonymousTls": True, "AdvertiseClientSettings": True,
    "EnableAuthGSSAPI": True, "MaxAcknowledgementDelay": "00:00:00", "ExtendedProtectionPolicy": "Require",
    "TlsDomainCapabilities": ["mail.contoso.com:AcceptOorgProtocol", "NO-TLS:AcceptOorgProtocol"],
}
FOREIGN = {
    "Name": "Fax Gateway", "AddressSpaces": ["FAX:*;10", "X400:c=US;a=Fabrikam;P=Contoso;5"],
    "IsScopedConnector": True, "SourceTransportServers": ["HUB01"], "DropDirectory": "Fax\\Outbound",
    "DropDirectoryQuota": "100MB", "MaxMessageSize": "5MB", "RelayDsnRequired": True, "Enabled": False,
    "Comment": "fax",
}
REMOTE = {
    "Name": "Fabrikam", "DomainName": "*.fabrikam.com", "AutoReplyEnabled": True, "AutoForwardEnabled": True,
    "DeliveryReportEnabled": False, "NDREnabled": False, "ContentType": "MimeText", "CharacterSet": "iso-8859-1",
    "LineWrapSize": 72, "IsInternal": True,
}

CASES = [
    pytest.param("New", SEND_CONNECTOR, SEND, None, id="New-SendConnector"),
    pytest.param("Set", SEND_CONNECTOR, {**SEND, "Name": "To Partner (renamed)", "Usage": None}, "Existing",
                 id="Set-SendConnector"),
    pytest.param("Set", SEND_CONNECTOR, {"LinkedReceiveConnector": "HUB01\\Default HUB01", "AddressSpaces": None,
                                         "DNSRoutingEnabled": False, "SmartHosts": "relay.contoso.com",
                                         "MaxMessageSize": "unlimited"}, "Existing",
                 id="Set-SendConnector-linked"),
    pytest.param("New", RECEIVE_CONNECTOR, RECEIVE, None, id="New-ReceiveConnector"),
    pytest.param("Set", RECEIVE_CONNECTOR, {key: value for key, value in RECEIVE.items()
                                            if key not in ("Server", "Usage")},
                 "HUB01\\Default HUB01", id="Set-ReceiveConnector"),
    pytest.param("New", FOREIGN_CONNECTOR, FOREIGN, None, id="New-ForeignConnector"),
    pytest.param("Set", FOREIGN_CONNECTOR, {**FOREIGN, "DropDirectoryQuota": "unlimited", "AddressSpaces": "FAX:*"},
                 "Existing Foreign", id="Set-ForeignConnector"),
    pytest.param("New", ACCEPTED_DOMAIN, {"Name": "Fabrikam", "DomainName": "*.fabrikam.com",
                                          "DomainType": "ExternalRelay"}, None, id="New-AcceptedDomain"),
    pytest.param("Set", ACCEPTED_DOMAIN, {"Name": "Contoso", "DomainType": "InternalRelay"}, "contoso.com",
                 id="Set-AcceptedDomain"),
    pytest.param("Set", ACCEPTED_DOMAIN, {"MakeDefault": True}, "Woodgrove", id="Set-AcceptedDomain-MakeDefault"),
    pytest.param("New", REMOTE_DOMAIN, REMOTE, None, id="New-RemoteDomain"),
    pytest.param("Set", REMOTE_DOMAIN, {key: value for key, value in REMOTE.items() if key != "DomainName"},
                 "Default", id="Set-RemoteDomain"),
    pytest.param("Set", TRANSPORT_CONFIG, {
        "MaxSendSize": "20MB", "MaxReceiveSize": "unlimited", "MaxRecipientEnvelopeLimit": 1000,
        "TLSSendDomainSecureList": ["contoso.com", "fabrikam.com"], "TLSReceiveDomainSecureList": "woodgrovebank.com",
        "ExternalPostmasterAddress": "postmaster@contoso.com"}, None, id="Set-TransportConfig"),
    pytest.param("Set", TRANSPORT_SERVER, {
        "Fqdn": "hub01.mail.contoso.com", "Site": "Default-First-Site-Name", "TransientFailureRetryCount": 4,
        "TransientFailureRetryInterval": "00:02:00", "OutboundConnectionFailureRetryInterval": "00:15:00",
        "MessageRetryInterval": "00:05:00", "DelayNotificationTimeout": "13:00:00",
        "MessageExpirationTimeout": "4.00:00:00", "MaxOutboundConnections": "unlimited",
        "MaxPerDomainOutboundConnections": 50, "InternalDNSServers": ["10.0.0.53", "10.0.0.54:5353"],
        "ExternalDNSServers": "[2001:db8::53]:53", "ReceiveProtocolLogPath": "Logs\\Receive",
        "ReceiveProtocolLogMaxAge": "7.00:00:00", "ReceiveProtocolLogMaxDirectorySize": "500MB",
        "ReceiveProtocolLogMaxFileSize": "5MB", "SendProtocolLogMaxAge": "14.00:00:00",
        "MessageTrackingLogEnabled": False, "MessageTrackingLogMaxFileSize": "20MB",
        "RootDropDirectoryPath": "Drop"}, "HUB01", id="Set-TransportServer"),
    pytest.param("New", MAILBOX, {"Name": "Chris Ashton", "PrimarySmtpAddress": "Chris@Contoso.com",
                                  "Password": MAILBOX_PASSWORD}, None, id="New-Mailbox"),
    pytest.param("Set", MAILBOX, {"Name": "Administrator (renamed)", "PrimarySmtpAddress": "admin@contoso.com",
                                  "Password": MAILBOX_PASSWORD}, "Administrator", id="Set-Mailbox"),
]


@pytest.fixture
def existing(hub):
    """The objects the Set- cases change, made directly."""
    services.new_object(SEND_CONNECTOR, {"Name": "Existing", "AddressSpaces": "*"})
    services.new_object(FOREIGN_CONNECTOR, {"Name": "Existing Foreign", "AddressSpaces": "X400:c=US;a=Contoso;1"})
    services.new_object(ACCEPTED_DOMAIN, {"Name": "Woodgrove", "DomainName": "woodgrovebank.com"})
    services.new_object(MAILBOX, {"Name": "Administrator", "PrimarySmtpAddress": "administrator@contoso.com",
                                  "Password": "old password"})


@contextmanager
def rolled_back():
    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            yield
            raise Undo
    except Undo:
        pass


def find(schema, identity, values):
    objects = schema.model.objects.all()
    if schema.singleton:
        return objects.get()
    name = values.get("Name") or identity.rpartition("\\")[2]
    return objects.get(name=name)


def snapshot(schema, obj):
    """Every stored property Get- shows, references by name; the password is checked on its own."""
    shown = {}
    for param in schema.params:
        if param.name in NOT_COMPARED:
            continue
        value = schema.value(obj, param)
        if isinstance(value, list):
            value = [getattr(item, "name", item) for item in value]
        shown[param.name] = getattr(value, "name", value)
    return shown


def secrets_for(values):
    """The render variables and the script lines that set them, for the secrets a change carries."""
    variables, script = {}, []
    if "AuthenticationCredential" in values:
        variables["AuthenticationCredential"] = "credential"
        script.append(CREDENTIAL_SCRIPT)
    if "Password" in values:
        variables["Password"] = "password"
        script.append(PASSWORD_SCRIPT)
    return variables, script


@pytest.mark.parametrize("verb, schema, values, identity", CASES)
def test_it_makes_the_same_object_from_the_rendered_command(existing, verb, schema, values, identity):
    values = {name: value for name, value in values.items() if value is not None or name == "AddressSpaces"}
    with rolled_back():
        if verb == "New":
            direct = services.new_object(schema, values)
        else:
            direct = services.set_object(schema, find(schema, identity, {}), values)
        expected = snapshot(schema, schema.model.objects.get(pk=direct.pk))

    variables, script = secrets_for(values)
    line = render_command(verb, schema, values, identity=identity, variables=variables)
    Session(BufferHost()).run("\n".join(script + [line]))

    made = find(schema, identity, values)
    assert snapshot(schema, made) == expected
    if "Password" in values:
        assert made.check_password(MAILBOX_PASSWORD)


def test_it_masks_secrets_in_the_displayed_command_and_the_line_still_parses(hub):
    line = render_command("New", SEND_CONNECTOR, SEND)
    assert SMART_HOST_PASSWORD not in line
    assert ("-AuthenticationCredential (New-Object System.Management.Automation.PSCredential('contoso\\relay', "
            "(ConvertTo-SecureString '********' -AsPlainText -Force)))") in line
    assert len(parse(line)) == 1
    mailbox_line = render_command("Set", MAILBOX, {"Password": MAILBOX_PASSWORD}, identity="Chris")
    assert mailbox_line == "Set-Mailbox 'Chris' -Password (ConvertTo-SecureString '********' -AsPlainText -Force)"


def test_it_renders_the_completion_page_example_exactly(hub):
    assert render_command("New", SEND_CONNECTOR, {
        "Name": "To Internet", "Usage": "Custom", "AddressSpaces": "SMTP:*;1", "IsScopedConnector": False,
        "DNSRoutingEnabled": False, "SmartHosts": "192.168.1.100", "SmartHostAuthMechanism": "None",
        "UseExternalDNSServersEnabled": False, "SourceTransportServers": "HUB01"}) == (
        "New-SendConnector -Name 'To Internet' -Usage 'Custom' -AddressSpaces 'SMTP:*;1' -IsScopedConnector $false "
        "-DNSRoutingEnabled $false -SmartHosts '[192.168.1.100]' -SmartHostAuthMechanism 'None' "
        "-UseExternalDNSServersEnabled $false -SourceTransportServers 'HUB01'")
