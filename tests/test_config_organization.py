"""Organization objects: accepted and remote domains, mailboxes, transport settings and transport servers."""
from datetime import timedelta

import pytest

from exchange_console.organization.models import AcceptedDomain, Mailbox, RemoteDomain, TransportServer
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER,
)
from exchange_console.services import ConfigurationError, new_object, remove_object, set_object
from tests.config_helpers import refused


# --- accepted domains ---

def test_the_first_accepted_domain_is_the_default(organization):
    assert AcceptedDomain.objects.get().default


def test_making_a_domain_the_default_takes_the_flag_from_the_old_one(organization):
    fabrikam = new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam", "DomainName": "fabrikam.com",
                                            "DomainType": "InternalRelay"})
    assert not fabrikam.default
    set_object(ACCEPTED_DOMAIN, fabrikam, {"MakeDefault": True})
    assert list(AcceptedDomain.objects.filter(default=True).values_list("name", flat=True)) == ["Fabrikam"]


@pytest.mark.parametrize("values, parameter, message", [
    ({"Name": "Bad", "DomainName": "*contoso.net"}, "DomainName", "is not a valid domain name"),
    ({"Name": "Bad", "DomainName": "contoso.com"}, "DomainName", "is already in use"),
    ({"Name": "contoso.com", "DomainName": "contoso.net"}, "Name", "already exists"),
    ({"Name": "Bad", "DomainName": "x.net", "DomainType": "Relay"}, "DomainType",
     "accepted values: Authoritative, InternalRelay, ExternalRelay"),
    ({"DomainName": "x.net"}, "Name", "a value is required"),
])
def test_it_refuses_bad_accepted_domains(organization, values, parameter, message):
    refused(ACCEPTED_DOMAIN, values, parameter, message)


def test_wildcard_accepted_domains_are_allowed(organization):
    assert new_object(ACCEPTED_DOMAIN, {"Name": "Sub", "DomainName": "*.contoso.net"}).domain_name == "*.contoso.net"


def test_the_default_domain_cannot_be_removed_or_unset(organization):
    new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam", "DomainName": "fabrikam.com"})
    contoso = AcceptedDomain.objects.get(default=True)
    with pytest.raises(ConfigurationError, match="can't be removed; make another domain the default first"):
        remove_object(ACCEPTED_DOMAIN, contoso)
    refused(ACCEPTED_DOMAIN, {"MakeDefault": False}, "MakeDefault", "there must be a default accepted domain",
            obj=contoso)


def test_a_domain_used_by_mailboxes_cannot_be_removed(organization):
    fabrikam = new_object(ACCEPTED_DOMAIN, {"Name": "Fabrikam", "DomainName": "fabrikam.com"})
    new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@fabrikam.com", "Password": "P@ssw0rd!"})
    with pytest.raises(ConfigurationError, match="mailboxes use it"):
        remove_object(ACCEPTED_DOMAIN, fabrikam)


# --- remote domains ---

def test_install_creates_the_default_remote_domain_with_exchange_defaults(organization):
    default = RemoteDomain.objects.get(domain_name="*")
    assert (default.name, default.ndr_enabled, default.delivery_report_enabled) == ("Default", True, True)
    assert (default.auto_reply_enabled, default.auto_forward_enabled, default.is_internal) == (False, False, False)
    assert default.content_type == "MimeHtmlText" and default.line_wrap_size is None


@pytest.mark.parametrize("values, parameter, message", [
    ({"Name": "X", "DomainName": "*"}, "DomainName", "is already in use"),
    ({"Name": "X", "DomainName": "fabrikam.com", "LineWrapSize": 200}, "LineWrapSize", "outside the range 0 to 132"),
    ({"Name": "X", "DomainName": "fabrikam.com", "ContentType": "Html"}, "ContentType", "accepted values"),
    ({"Name": "X", "DomainName": "fab rikam.com"}, "DomainName", "is not a valid domain name"),
])
def test_it_refuses_bad_remote_domains(organization, values, parameter, message):
    refused(REMOTE_DOMAIN, values, parameter, message)


def test_the_default_remote_domain_cannot_be_removed(organization):
    with pytest.raises(ConfigurationError, match=r"The Default remote domain \(\*\) can't be removed"):
        remove_object(REMOTE_DOMAIN, RemoteDomain.objects.get(domain_name="*"))


# --- mailboxes ---

def test_mailbox_passwords_are_stored_as_hashes(organization):
    mailbox = new_object(MAILBOX, {"Name": "Kim Akers", "PrimarySmtpAddress": "Kim@Contoso.com",
                                   "Password": "P@ssw0rd!"})
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert stored.primary_smtp_address == "kim@contoso.com"
    assert "P@ssw0rd!" not in stored.password and stored.check_password("P@ssw0rd!")
    assert not stored.check_password("wrong")


@pytest.mark.parametrize("values, parameter, message", [
    ({"PrimarySmtpAddress": "kim@fabrikam.com"}, "PrimarySmtpAddress", "'fabrikam.com' is not an accepted domain"),
    ({"PrimarySmtpAddress": "kim"}, "PrimarySmtpAddress", "is not a valid SMTP address"),
    ({"PrimarySmtpAddress": "kim@contoso.com", "Password": ""}, "Password", "a password is required"),
])
def test_it_refuses_bad_mailboxes(organization, values, parameter, message):
    refused(MAILBOX, {"Name": "Kim", "Password": "P@ssw0rd!", **values}, parameter, message)


def test_mailbox_addresses_are_unique(organization):
    new_object(MAILBOX, {"Name": "Kim", "PrimarySmtpAddress": "kim@contoso.com", "Password": "x1"})
    refused(MAILBOX, {"Name": "Kim 2", "PrimarySmtpAddress": "KIM@contoso.com", "Password": "x1"},
            "PrimarySmtpAddress", "is already in use")


# --- transport settings ---

def test_transport_config_defaults_and_postmaster(organization):
    config = organization.transport_config
    assert (config.max_send_size, config.max_receive_size) == (10 * 1024 * 1024, 10 * 1024 * 1024)
    assert config.max_recipient_envelope_limit == 5000
    assert config.postmaster_address() == "postmaster@contoso.com"


@pytest.mark.parametrize("values, parameter, message", [
    ({"TLSSendDomainSecureList": "*.contoso.com"}, "TLSSendDomainSecureList", "wildcards are not allowed"),
    ({"TLSReceiveDomainSecureList": "not a domain"}, "TLSReceiveDomainSecureList", "is not a valid domain name"),
    ({"MaxRecipientEnvelopeLimit": -1}, "MaxRecipientEnvelopeLimit", "outside the range"),
    ({"ExternalPostmasterAddress": "postmaster"}, "ExternalPostmasterAddress", "is not a valid SMTP address"),
    ({"MaxSendSize": "3GB"}, "MaxSendSize", "outside the range"),
])
def test_it_refuses_bad_transport_settings(organization, values, parameter, message):
    refused(TRANSPORT_CONFIG, values, parameter, message, obj=organization.transport_config)


def test_domain_secure_lists_keep_plain_domains(organization):
    config = set_object(TRANSPORT_CONFIG, organization.transport_config,
                        {"TLSSendDomainSecureList": ["Partner.example", "fabrikam.com"],
                         "MaxRecipientEnvelopeLimit": "unlimited"})
    assert config.tls_send_domain_secure_list == ["partner.example", "fabrikam.com"]
    assert config.max_recipient_envelope_limit is None


# --- transport servers ---

def test_a_server_gets_exchange_retry_defaults(hub):
    assert (hub.transient_failure_retry_count, hub.transient_failure_retry_interval) == (6, timedelta(minutes=5))
    assert hub.outbound_connection_failure_retry_interval == timedelta(minutes=10)
    assert (hub.message_retry_interval, hub.delay_notification_timeout) == (timedelta(minutes=1), timedelta(hours=4))
    assert hub.message_expiration_timeout == timedelta(days=2)
    assert (hub.max_outbound_connections, hub.max_per_domain_outbound_connections) == (1000, 20)
    assert hub.receive_protocol_log_max_age == timedelta(days=30)
    assert hub.receive_protocol_log_max_directory_size == 250 * 1024 * 1024
    assert hub.receive_protocol_log_max_file_size == 10 * 1024 * 1024


def test_dns_servers_take_ip_or_ip_port(hub):
    server = set_object(TRANSPORT_SERVER, hub, {"InternalDNSServers": "10.0.0.53, 127.0.0.1:5353",
                                                "ExternalDNSServers": ["[::1]:5353"]})
    assert server.internal_dns_servers == ["10.0.0.53", "127.0.0.1:5353"]
    assert server.external_dns_servers == ["[::1]:5353"]


@pytest.mark.parametrize("values, parameter, message", [
    ({"TransientFailureRetryCount": 16}, "TransientFailureRetryCount", "outside the range 0 to 15"),
    ({"TransientFailureRetryInterval": "13:00:00"}, "TransientFailureRetryInterval", "outside the range"),
    ({"MessageExpirationTimeout": "91.00:00:00"}, "MessageExpirationTimeout", "outside the range"),
    ({"InternalDNSServers": "dns.contoso.com"}, "InternalDNSServers", "is not an IP address or IP:port"),
    ({"ReceiveProtocolLogPath": "../../etc"}, "ReceiveProtocolLogPath", "may not contain '..'"),
    ({"ReceiveProtocolLogMaxFileSize": "300MB"}, "ReceiveProtocolLogMaxFileSize",
     "must not be larger than ReceiveProtocolLogMaxDirectorySize"),
    ({"Fqdn": "hub 01"}, "Fqdn", "is not a valid fully qualified domain name"),
    ({"MaxOutboundConnections": 0}, "MaxOutboundConnections", "outside the range"),
    ({"Name": "HUB99"}, "Name", "A parameter cannot be found that matches parameter name 'Name'"),
])
def test_it_refuses_bad_server_settings(hub, values, parameter, message):
    refused(TRANSPORT_SERVER, values, parameter, message, obj=hub)
    assert TransportServer.objects.get(pk=hub.pk).version == hub.version


def test_server_names_are_netbios_like(organization):
    refused(TRANSPORT_SERVER, {"Name": "HUB_01", "Fqdn": "hub.contoso.com", "Site": "Default-First-Site-Name"},
            "Name", "may contain only letters, digits and hyphens")
    refused(TRANSPORT_SERVER, {"Name": "HUB01", "Fqdn": "hub.contoso.com", "Site": "Nowhere"},
            "Site", "Site 'Nowhere' couldn't be found")
