"""Receive connector parameters, usage presets and the shared-binding rule (docs/exchange-behaviour.md "Receive
connectors")."""
import pytest

from exchange_console.connectors.models import ReceiveConnector
from exchange_console.connectors.schemas import RECEIVE_CONNECTOR
from exchange_console.organization import setup
from exchange_console.services import ConfigurationError, new_object, set_object
from tests.config_helpers import refused

BINDING = "0.0.0.0:2600"
CONFLICT = ('The values that you specified for the Bindings and RemoteIPRanges parameters conflict with the '
            'settings on Receive connector "HUB01\\{}".')


def new(name="Relay", **values):
    return new_object(RECEIVE_CONNECTOR, {"Name": name, **values})


@pytest.mark.parametrize("usage, groups, mechanisms, bindings, ranges", [
    ("Client", ["ExchangeUsers"], ["Tls", "BasicAuth", "BasicAuthRequireTLS", "Integrated"],
     None, ["10.0.0.0/8"]),
    ("Internal", ["ExchangeServers", "ExchangeLegacyServers"], ["Tls", "ExchangeServer"], None, ["10.0.0.0/8"]),
    ("Internet", ["AnonymousUsers"], ["Tls"], [BINDING], None),
    ("Partner", ["Partners"], ["Tls"], [BINDING], ["203.0.113.0/24"]),
    ("Custom", [], ["Tls"], [BINDING], ["10.0.0.0/8"]),
])
def test_usage_presets_follow_the_reference_table(hub, usage, groups, mechanisms, bindings, ranges):
    values = {"Usage": usage}
    if bindings:
        values["Bindings"] = bindings
    if ranges:
        values["RemoteIPRanges"] = ranges
    connector = new(**values)
    assert sorted(connector.permission_groups) == sorted(groups)
    assert sorted(connector.auth_mechanism) == sorted(mechanisms)
    expected_bindings = bindings or [{"Client": "0.0.0.0:587", "Internal": "0.0.0.0:25"}[usage]]
    assert connector.bindings == expected_bindings
    assert connector.remote_ip_ranges == (ranges or ["0.0.0.0-255.255.255.255"])


@pytest.mark.parametrize("usage, missing", [
    ("Internet", "Bindings"), ("Partner", "Bindings"), ("Custom", "Bindings"),
    ("Client", "RemoteIPRanges"), ("Internal", "RemoteIPRanges"), ("Partner", "RemoteIPRanges"),
])
def test_what_a_usage_requires_must_be_given(hub, usage, missing):
    values = {"Usage": usage, "Bindings": BINDING, "RemoteIPRanges": "10.0.0.0/8"}
    values.pop(missing)
    if usage in ("Client", "Internal"):
        values.pop("Bindings", None)
    refused(RECEIVE_CONNECTOR, {"Name": "Relay", **values}, missing,
            f"{missing}: required for a receive connector of usage '{usage}'")


def test_explicit_parameters_win_over_the_preset(hub):
    connector = new(Usage="Internet", Bindings=BINDING, PermissionGroups="AnonymousUsers,ExchangeUsers")
    assert connector.permission_groups == ["AnonymousUsers", "ExchangeUsers"]


def test_it_takes_exchange_defaults(hub):
    connector = new(Bindings=BINDING, RemoteIPRanges="10.0.0.0/8")
    assert connector.fqdn == "hub01.contoso.com"
    assert (connector.max_message_size, connector.max_header_size) == (10 * 1024 * 1024, 64 * 1024)
    assert (connector.max_recipients_per_message, connector.max_hop_count, connector.max_local_hop_count) == (200, 30, 8)
    assert (connector.max_inbound_connection, connector.max_inbound_connection_per_source,
            connector.max_inbound_connection_percentage_per_source) == (5000, 20, 2)
    assert (str(connector.connection_timeout), str(connector.connection_inactivity_timeout),
            str(connector.tarpit_interval)) == ("0:10:00", "0:05:00", "0:00:05")
    assert (connector.message_rate_limit, connector.max_protocol_errors, connector.max_logon_failures) == (None, 5, 3)
    assert connector.protocol_logging_level == "None" and connector.size_enabled == "Enabled"
    assert all([connector.eight_bit_mime_enabled, connector.pipelining_enabled, connector.chunking_enabled,
                connector.binary_mime_enabled, connector.delivery_status_notification_enabled,
                connector.enhanced_status_codes_enabled, connector.enabled])
    assert not any([connector.require_ehlo_domain, connector.require_tls, connector.domain_secure_enabled])


@pytest.fixture
def edge(organization):
    return setup.install_transport_server("EDGE01", "edge01.contoso.com", "Default-First-Site-Name", role="Edge")


def test_edge_receive_connectors_take_the_edge_defaults(edge):
    connector = new(Usage="Internet", Bindings=BINDING)
    assert connector.message_rate_limit == 600
    assert (str(connector.connection_timeout), str(connector.connection_inactivity_timeout)) == ("0:05:00", "0:01:00")
    assert connector.max_inbound_connection_per_source == 20   # the same as on a Hub
    assert str(connector.tarpit_interval) == "0:00:05"


def test_given_limits_win_over_the_edge_defaults(edge):
    connector = new(Usage="Internet", Bindings=BINDING, MessageRateLimit="unlimited", ConnectionTimeout="00:20:00",
                    ConnectionInactivityTimeout="00:10:00")
    assert connector.message_rate_limit is None
    assert (str(connector.connection_timeout), str(connector.connection_inactivity_timeout)) == ("0:20:00", "0:10:00")


def test_an_edge_connector_checks_its_timeouts_against_the_edge_default(edge):
    refused(RECEIVE_CONNECTOR, {"Name": "Slow", "Usage": "Internet", "Bindings": BINDING,
                                "ConnectionInactivityTimeout": "00:06:00"},
            "ConnectionInactivityTimeout", "must be lower than ConnectionTimeout")


def test_client_usage_is_refused_on_an_edge(edge):
    refused(RECEIVE_CONNECTOR, {"Name": "Clients", "Usage": "Client", "RemoteIPRanges": "10.0.0.0/8"}, "Usage",
            "Usage: 'Client' isn't valid for a receive connector on the Edge Transport server EDGE01.")
    assert not ReceiveConnector.objects.filter(name="Clients").exists()


@pytest.mark.parametrize("values, parameter, message", [
    ({"AuthMechanism": "None,Tls"}, "AuthMechanism", "None can't be combined"),
    ({"AuthMechanism": "BasicAuthRequireTLS,Tls"}, "AuthMechanism", "BasicAuthRequireTLS requires BasicAuth and Tls"),
    ({"AuthMechanism": "BasicAuthRequireTLS,BasicAuth"}, "AuthMechanism", "requires BasicAuth and Tls"),
    ({"AuthMechanism": "ExternalAuthoritative,Tls,BasicAuth", "PermissionGroups": "ExchangeServers"},
     "AuthMechanism", "ExternalAuthoritative can only be combined with Tls"),
    ({"AuthMechanism": "ExternalAuthoritative,Tls", "PermissionGroups": "AnonymousUsers"}, "PermissionGroups",
     "ExternalAuthoritative requires the ExchangeServers permission group"),
    ({"AuthMechanism": "BasicAuth", "RequireTLS": True}, "RequireTLS", "requires the Tls authentication mechanism"),
    ({"AuthMechanism": "None", "DomainSecureEnabled": True}, "DomainSecureEnabled", "requires the Tls"),
    ({"AuthMechanism": "Kerberos"}, "AuthMechanism", "accepted values: None, Tls, Integrated, BasicAuth"),
    ({"PermissionGroups": "Everyone"}, "PermissionGroups", "accepted values: None, AnonymousUsers, ExchangeUsers"),
    ({"PermissionGroups": "None,AnonymousUsers"}, "PermissionGroups", "None can't be combined"),
    ({"Banner": "Welcome to Contoso"}, "Banner", "must start with '220 '"),
    ({"ConnectionTimeout": "00:05:00"}, "ConnectionInactivityTimeout", "must be lower than ConnectionTimeout"),
    ({"ConnectionTimeout": "00:10:00", "ConnectionInactivityTimeout": "00:10:00"}, "ConnectionInactivityTimeout",
     "must be lower"),
    ({"MaxMessageSize": "64000B"}, "MaxMessageSize", "outside the range 64 KB (65,536 bytes) to"),
    ({"MaxMessageSize": "3GB"}, "MaxMessageSize", "outside the range"),
    ({"MaxMessageSize": "unlimited"}, "MaxMessageSize", "'unlimited' is not allowed"),
    ({"MaxRecipientsPerMessage": 0}, "MaxRecipientsPerMessage", "outside the range 1 to 512000"),
    ({"MaxHopCount": 501}, "MaxHopCount", "outside the range 1 to 500"),
    ({"MaxInboundConnectionPercentagePerSource": 101}, "MaxInboundConnectionPercentagePerSource", "1 to 100"),
    ({"MaxLogonFailures": 11}, "MaxLogonFailures", "outside the range 0 to 10"),
    ({"TarpitInterval": "00:11:00"}, "TarpitInterval", "outside the range 00:00:00 to 00:10:00"),
    ({"MessageRateSource": "Domain"}, "MessageRateSource", "accepted values: None, User, IPAddress, All"),
    ({"SizeEnabled": "Maybe"}, "SizeEnabled", "accepted values: Enabled, Disabled, EnabledWithoutValue"),
    ({"Bindings": "0.0.0.0"}, "Bindings", "needs a port"),
    ({"Bindings": "0.0.0.0:70000"}, "Bindings", "port must be a number from 1 to 65535"),
    ({"RemoteIPRanges": "10.0.0.9-10.0.0.1"}, "RemoteIPRanges", "must not be higher than the last"),
    ({"Fqdn": "mail server"}, "Fqdn", "is not a valid fully qualified domain name"),
    ({"Name": "n" * 65}, "Name", "longer than 64 characters"),
    ({"EnhancedStatusCodesEnabled": "maybe"}, "EnhancedStatusCodesEnabled", "is not a Boolean"),
])
def test_it_refuses_each_broken_rule_naming_the_parameter(hub, values, parameter, message):
    refused(RECEIVE_CONNECTOR, {"Name": "Relay", "Bindings": BINDING, "RemoteIPRanges": "10.0.0.0/8", **values},
            parameter, message)


def test_names_are_unique_per_server_only(second_hub):
    new(Bindings=BINDING, RemoteIPRanges="10.0.0.0/8", Server="HUB01")
    assert new(Bindings=BINDING, RemoteIPRanges="10.0.0.0/8", Server="HUB02").identity == "HUB02\\Relay"
    refused(RECEIVE_CONNECTOR, {"Name": "Relay", "Bindings": "0.0.0.0:2700", "RemoteIPRanges": "10.0.0.0/8",
                                "Server": "HUB01"}, "Name", "already exists")


def test_with_several_servers_the_server_must_be_named(second_hub):
    refused(RECEIVE_CONNECTOR, {"Name": "Relay", "Bindings": BINDING, "RemoteIPRanges": "10.0.0.0/8"}, "Server",
            "Server: a value is required")


def test_reference_three_connector_example_shares_one_binding(hub):
    new("Internet", Bindings=BINDING, RemoteIPRanges="0.0.0.0-255.255.255.255")
    new("Branch", Bindings=BINDING, RemoteIPRanges="192.168.1.0-192.168.1.255")
    assert new("Printer", Bindings=BINDING, RemoteIPRanges="192.168.1.75").pk


@pytest.mark.parametrize("bindings, ranges, conflicts_with", [
    (BINDING, "192.168.1.70-192.168.2.5", "Branch"),      # partial overlap
    (BINDING, "192.168.1.0/24", "Branch"),                 # the same span in another spelling
    ("192.168.1.1:2600", "192.168.1.100-192.168.2.100", "Branch"),  # a specific IP under the 0.0.0.0 binding
])
def test_a_shared_binding_needs_nested_or_disjoint_ranges(hub, bindings, ranges, conflicts_with):
    new("Branch", Bindings=BINDING, RemoteIPRanges="192.168.1.0-192.168.1.255")
    refused(RECEIVE_CONNECTOR, {"Name": "Relay", "Bindings": bindings, "RemoteIPRanges": ranges}, "Bindings",
            CONFLICT.format(conflicts_with))


@pytest.mark.parametrize("bindings, ranges", [
    ("0.0.0.0:2601", "192.168.1.0/24"),                    # another port
    (BINDING, "10.0.0.0/8"),                               # disjoint ranges
    (BINDING, "192.168.0.0/16"),                           # contains the other's range
    ("[::]:2600", "::/0"),                                 # another address family
])
def test_it_allows_bindings_that_do_not_conflict(hub, bindings, ranges):
    new("Branch", Bindings=BINDING, RemoteIPRanges="192.168.1.0-192.168.1.255")
    assert new(Bindings=bindings, RemoteIPRanges=ranges).pk


def test_the_conflict_rule_applies_to_changes_too(hub):
    new("Branch", Bindings=BINDING, RemoteIPRanges="192.168.1.0/24")
    other = new("Other", Bindings="0.0.0.0:2601", RemoteIPRanges="192.168.1.0/24")
    with pytest.raises(ConfigurationError, match="conflict with the settings on Receive connector"):
        set_object(RECEIVE_CONNECTOR, other, {"Bindings": BINDING})
    assert ReceiveConnector.objects.get(pk=other.pk).bindings == ["0.0.0.0:2601"]


def test_install_defaults_match_exchange_setup(hub):
    default, client = ReceiveConnector.objects.filter(server=hub).order_by("name").reverse()
    assert (default.name, client.name) == ("Default HUB01", "Client HUB01")
    assert default.permission_groups == ["ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers"]
    assert default.auth_mechanism == ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer"]
    assert client.permission_groups == ["ExchangeUsers"]
    assert client.auth_mechanism == ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"]
