"""Send connector parameters and rules (docs/exchange-behaviour.md "Send connectors"), through the one write path."""
import pytest

from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR, SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.services import ConfigurationError, new_object, set_object
from tests.config_helpers import refused

SMART_HOST = {"SmartHosts": "192.168.1.100", "DNSRoutingEnabled": False}


def new(**values):
    return new_object(SEND_CONNECTOR, {"Name": "To Internet", **values})


def test_it_creates_with_exchange_defaults(hub):
    connector = new(AddressSpaces="*")
    assert connector.usage == "Custom"
    assert connector.address_spaces == ["SMTP:*;1"]
    assert connector.dns_routing_enabled and connector.enabled and not connector.is_scoped_connector
    assert connector.port == 25 and connector.max_message_size == 10 * 1024 * 1024
    assert str(connector.connection_inactivity_timeout) == "0:10:00"
    assert connector.smtp_max_messages_per_connection == 20
    assert [server.name for server in connector.source_transport_servers.all()] == ["HUB01"]
    assert connector.version == 1


@pytest.mark.parametrize("values", [
    {"AddressSpaces": "SMTP:*;1"},
    {"AddressSpaces": ["contoso.com;1", "*.fabrikam.com;10"], "IsScopedConnector": True},
    {"AddressSpaces": "*", **SMART_HOST, "SmartHostAuthMechanism": "BasicAuthRequireTLS",
     "AuthenticationCredential": ("relay", "s3cret")},
    {"AddressSpaces": "X400:c=US;a= ;p=Contoso;1", **SMART_HOST},
    {"AddressSpaces": "*", "RequireTLS": True, "TlsAuthLevel": "DomainValidation", "TlsDomain": "*.contoso.com"},
    {"AddressSpaces": "partner.example", "DomainSecureEnabled": True},
    {"AddressSpaces": "*", "DomainSecureEnabled": True},
    {"AddressSpaces": "*", "Usage": "Internet"},
    {"AddressSpaces": "*", "MaxMessageSize": "unlimited", "Port": 587, "Fqdn": "mail.contoso.com"},
])
def test_it_accepts_valid_combinations(hub, values):
    assert new(**values).pk


@pytest.mark.parametrize("values, parameter, message", [
    ({"AddressSpaces": "*contoso.com"}, "AddressSpaces", "is not a valid SMTP address space"),
    ({"AddressSpaces": "contoso.com;0"}, "AddressSpaces", "cost must be between 1 and 100"),
    ({"AddressSpaces": "contoso.com;101"}, "AddressSpaces", "cost must be between 1 and 100"),
    ({}, "AddressSpaces", "at least one address space is required"),
    ({"AddressSpaces": "*", "SmartHosts": "192.168.1.100"}, "DNSRoutingEnabled",
     "must be $false when SmartHosts is specified"),
    ({"AddressSpaces": "*", "DNSRoutingEnabled": False}, "SmartHosts", "required when DNSRoutingEnabled is $false"),
    ({"AddressSpaces": "X400:c=US;a= ;p=Contoso;1"}, "AddressSpaces", "non-SMTP address space needs SmartHosts"),
    ({"AddressSpaces": "*", "SmartHostAuthMechanism": "BasicAuth"}, "AuthenticationCredential",
     "required when SmartHostAuthMechanism is 'BasicAuth'"),
    ({"AddressSpaces": "*", "ErrorPolicies": "DowngradeCustomFailures,UpgradeCustomFailures"}, "ErrorPolicies",
     "can't be combined"),
    ({"AddressSpaces": "*", "ErrorPolicies": "Default,DowngradeDnsFailures"}, "ErrorPolicies",
     "Default can't be combined with other values"),
    ({"AddressSpaces": "*", "ErrorPolicies": "DowngradeAll"}, "ErrorPolicies", "accepted values: Default, "),
    ({"AddressSpaces": "*", "SourceIPAddress": "10.0.0.300"}, "SourceIPAddress", "is not a valid IP address"),
    ({"AddressSpaces": "*", **SMART_HOST, "SmartHostAuthMechanism": "BasicAuth"}, "AuthenticationCredential",
     "required when SmartHostAuthMechanism is 'BasicAuth'"),
    ({"AddressSpaces": "*", **SMART_HOST, "SmartHostAuthMechanism": "Kerberos"}, "SmartHostAuthMechanism",
     "accepted values: None, BasicAuth, BasicAuthRequireTLS, ExchangeServer, ExternalAuthoritative"),
    ({"AddressSpaces": "*", "RequireTLS": True, "IgnoreSTARTTLS": True}, "IgnoreSTARTTLS",
     "must be $false when RequireTLS is $true"),
    ({"AddressSpaces": "*", "TlsAuthLevel": "EncryptionOnly"}, "TlsAuthLevel", "only be set when RequireTLS"),
    ({"AddressSpaces": "*", "RequireTLS": True, "TlsAuthLevel": "DomainValidation"}, "TlsDomain",
     "required when TlsAuthLevel is DomainValidation"),
    ({"AddressSpaces": "*", "RequireTLS": True, "TlsDomain": "contoso.com"}, "TlsDomain",
     "only be set when TlsAuthLevel is DomainValidation"),
    ({"AddressSpaces": "partner.example", "DomainSecureEnabled": True, **SMART_HOST}, "DomainSecureEnabled",
     "requires DNSRoutingEnabled $true"),
    ({"AddressSpaces": "partner.example", "DomainSecureEnabled": True, "IgnoreSTARTTLS": True},
     "DomainSecureEnabled", "requires IgnoreSTARTTLS $false"),
    ({"AddressSpaces": "*", "Port": 0}, "Port", "outside the range 1 to 65535"),
    ({"AddressSpaces": "*", "Port": "smtp"}, "Port", "is not a whole number"),
    ({"AddressSpaces": "*", "MaxMessageSize": "lots"}, "MaxMessageSize", "is not a size"),
    ({"AddressSpaces": "*", "ConnectionInactivityTimeOut": "2.00:00:00"}, "ConnectionInactivityTimeOut",
     "outside the range 00:00:01 to 1.00:00:00"),
    ({"AddressSpaces": "*", "Fqdn": "not a host"}, "Fqdn", "is not a valid fully qualified domain name"),
    ({"AddressSpaces": "*", "SmtpMaxMessagesPerConnection": 0}, "SmtpMaxMessagesPerConnection", "outside the range"),
    ({"AddressSpaces": "*", "Usage": "Outbound"}, "Usage", "accepted values: Custom, Internal, Internet, Partner"),
    ({"AddressSpaces": "*", "SourceTransportServers": "NOPE"}, "SourceTransportServers",
     "Transport server 'NOPE' couldn't be found"),
    ({"AddressSpaces": "--"}, "AddressSpaces", "only valid for a connector whose source servers are Edge"),
    ({"AddressSpaces": "*", "Colour": "blue"}, "Colour", "A parameter cannot be found that matches parameter name"),
    ({"Name": "x" * 65, "AddressSpaces": "*"}, "Name", "longer than 64 characters"),
])
def test_it_refuses_each_broken_rule_naming_the_parameter(hub, values, parameter, message):
    refused(SEND_CONNECTOR, {"Name": "To Internet", **values}, parameter, message)


def test_it_requires_a_name(hub):
    with pytest.raises(ConfigurationError, match="Name: a value is required"):
        new_object(SEND_CONNECTOR, {"AddressSpaces": "*"})


def test_it_refuses_a_duplicate_name_case_insensitively(hub):
    new(AddressSpaces="*")
    with pytest.raises(ConfigurationError, match="already exists"):
        new_object(SEND_CONNECTOR, {"Name": "TO INTERNET", "AddressSpaces": "*"})


def test_it_collects_every_refusal_at_once(hub):
    with pytest.raises(ConfigurationError) as caught:
        new(AddressSpaces="*contoso.com", Port=0, MaxMessageSize="lots")
    assert set(caught.value.by_parameter()) == {"AddressSpaces", "Port", "MaxMessageSize"}


def test_internal_usage_authenticates_smart_hosts_as_exchange_server(hub):
    connector = new(AddressSpaces="*", Usage="Internal", **SMART_HOST)
    assert connector.smart_host_auth_mechanism == "ExchangeServer"


def test_partner_usage_enables_domain_security(hub):
    assert new(AddressSpaces="partner.example", Usage="Partner").domain_secure_enabled


def test_usage_is_fixed_at_creation(hub):
    connector = new(AddressSpaces="*")
    with pytest.raises(ConfigurationError, match="A parameter cannot be found that matches parameter name 'Usage'"):
        set_object(SEND_CONNECTOR, connector, {"Usage": "Internet"})


def test_edge_and_hub_sources_cannot_be_mixed(hub):
    setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")
    values = {"Name": "To Internet", "AddressSpaces": "*", "SourceTransportServers": ["HUB01", "EDGE01"]}
    refused(SEND_CONNECTOR, values, "SourceTransportServers", "can't be mixed")


def test_edge_sources_may_use_all_accepted_domains_but_not_x400(hub):
    setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")
    assert new(AddressSpaces="--", SourceTransportServers="EDGE01").address_spaces == ["SMTP:--;1"]
    with pytest.raises(ConfigurationError, match="accept only SMTP address spaces"):
        new_object(SEND_CONNECTOR, {"Name": "X", "AddressSpaces": "X400:c=US;1", "SourceTransportServers": "EDGE01",
                                    **SMART_HOST})


def test_linked_receive_connector_needs_no_spaces_no_dns_and_unlimited_size(hub):
    linked = new_object(RECEIVE_CONNECTOR, {"Name": "From DLP", "Bindings": "0.0.0.0:2626",
                                            "RemoteIPRanges": "10.0.0.5"})
    with pytest.raises(ConfigurationError) as caught:
        new(AddressSpaces="*", LinkedReceiveConnector="HUB01\\From DLP")
    messages = str(caught.value)
    assert "can't have AddressSpaces" in messages and "DNSRoutingEnabled must be $false" in messages
    assert "MaxMessageSize must be unlimited" in messages
    connector = new(LinkedReceiveConnector="HUB01\\From DLP", MaxMessageSize="unlimited",
                    SmartHosts="dlp.contoso.com", DNSRoutingEnabled=False)
    assert connector.linked_receive_connector == linked


def test_credentials_are_encrypted_at_rest(hub):
    connector = new(AddressSpaces="*", **SMART_HOST, SmartHostAuthMechanism="BasicAuth",
                    AuthenticationCredential=("relay", "s3cret-password"))
    stored = SendConnector.objects.values_list("auth_password_encrypted", flat=True).get()
    assert "s3cret-password" not in stored
    assert SendConnector.objects.get(pk=connector.pk).authentication_credential == ("relay", "s3cret-password")


def test_a_refused_change_leaves_the_stored_object_as_it_was(hub):
    connector = new(AddressSpaces="*")
    with pytest.raises(ConfigurationError):
        set_object(SEND_CONNECTOR, connector, {"MaxMessageSize": "20MB", "SmartHosts": "10.0.0.1"})
    stored = SendConnector.objects.get(pk=connector.pk)
    assert (stored.max_message_size, stored.smart_hosts, stored.version) == (10 * 1024 * 1024, [], 1)
