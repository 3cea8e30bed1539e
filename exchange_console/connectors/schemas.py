"""Schemas of Send, Receive and Foreign connectors: Exchange's parameters, usage presets and cross-field rules."""
from datetime import timedelta

from django.db.models import Q

from exchange_console import params as p
from exchange_console.connectors.models import (
    ForeignConnector, ReceiveConnector, ReceiveConnectorPermission, RoutingGroupConnector, SendConnector,
)
from exchange_console.lib.domains import ALL_ACCEPTED_DOMAINS, SITE_HUB_SERVERS, parse_address_space
from exchange_console.lib.ipranges import parse_binding, parse_ip_range
from exchange_console.organization.models import (
    AcceptedDomain, LegacyExchangeServer, Mailbox, RoutingGroup, TransportServer,
)
from exchange_console.organization.schemas import MAX_INT, SECOND, all_servers, common_params, unique_name
from exchange_console.schema import ObjectSchema, Param, notes_param, pending_refs, read_only, rule
from transport.receive.policy import EXTENDED_RIGHTS, WELL_KNOWN_PRINCIPALS

KB = 1024
SMART_HOST_AUTH = ("None", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer", "ExternalAuthoritative")
TLS_AUTH_LEVELS = ("EncryptionOnly", "CertificateValidation", "DomainValidation")
# Flags (several may be given); none is 'Default' (transport/delivery/agent.py says what each does).
ERROR_POLICIES = ("DowngradeDnsFailures", "DowngradeCustomFailures", "UpgradeCustomFailures")
EXTENDED_PROTECTION_POLICIES = ("None", "Allow", "Require")
TLS_DOMAIN_CAPABILITIES = ("AcceptOorgProtocol",)   # Exchange 2010's only one
HYBRID = "hybrid mail flow with Office 365 isn't part of this transport"


def source_servers_param():
    return Param("SourceTransportServers", "source_transport_servers",
                 p.ObjectRefs(TransportServer.objects.all, "Transport server"), m2m=True)


def spaces(connector):
    return [parse_address_space(text) for text in connector.address_spaces]


def default_source_servers(connector, given):
    """Exchange takes the local server; a console has none, so the servers that run on this database are the
    sources: the organization's Hubs, or an Edge's own server."""
    if "SourceTransportServers" not in given:
        connector._pending_refs = {**getattr(connector, "_pending_refs", {}),
                                   "source_transport_servers": list(TransportServer.objects.local())}


def source_servers_rules(connector):
    servers = pending_refs(connector, "source_transport_servers")
    if not servers:
        yield rule("SourceTransportServers", "SourceTransportServers: at least one source server is required.")
        return
    roles = {server.role for server in servers}
    if len(roles) > 1:
        yield rule("SourceTransportServers",
                   "SourceTransportServers: Hub Transport and Edge Transport servers can't be mixed.")
    edge_only = roles == {TransportServer.EDGE}
    for space in spaces(connector):
        if space.address == ALL_ACCEPTED_DOMAINS and not edge_only:
            yield rule("AddressSpaces", "AddressSpaces: '--' (all accepted domains) is only valid for a connector "
                                        "whose source servers are Edge Transport servers.")
        if not space.is_smtp and edge_only:
            yield rule("AddressSpaces", f"AddressSpaces: '{space}': Edge Transport servers accept only SMTP "
                                        f"address spaces.")
    if SITE_HUB_SERVERS in (getattr(connector, "smart_hosts", None) or ()) and not edge_only:
        yield rule("SmartHosts", "SmartHosts: '--' (the Hub servers of the subscribed site) is only valid for a "
                                 "connector whose source servers are Edge Transport servers.")


# --- Send connectors ------------------------------------------------------------------------------------------

def send_usage_presets(connector, given):
    """Usage sets what its intended use implies; parameters given explicitly win."""
    if connector.usage == "Internal" and connector.smart_hosts and "SmartHostAuthMechanism" not in given:
        connector.smart_host_auth_mechanism = "ExchangeServer"
    if connector.usage == "Partner" and "DomainSecureEnabled" not in given:
        connector.domain_secure_enabled = True
    default_source_servers(connector, given)


def send_routing_rules(connector):
    if connector.linked_receive_connector is not None:
        if connector.address_spaces:
            yield rule("LinkedReceiveConnector",
                       "LinkedReceiveConnector: a linked connector can't have AddressSpaces; set them to $null.")
        if connector.dns_routing_enabled:
            yield rule("LinkedReceiveConnector", "LinkedReceiveConnector: DNSRoutingEnabled must be $false.")
        if connector.max_message_size is not None:
            yield rule("LinkedReceiveConnector", "LinkedReceiveConnector: MaxMessageSize must be unlimited.")
    elif not connector.address_spaces:
        yield rule("AddressSpaces", "AddressSpaces: at least one address space is required.")
    if connector.smart_hosts and connector.dns_routing_enabled:
        yield rule("DNSRoutingEnabled",
                   "DNSRoutingEnabled: must be $false when SmartHosts is specified.")
    if not connector.smart_hosts and not connector.dns_routing_enabled:
        yield rule("SmartHosts", "SmartHosts: required when DNSRoutingEnabled is $false.")
    if any(not space.is_smtp for space in spaces(connector)) and connector.dns_routing_enabled:
        yield rule("AddressSpaces", "AddressSpaces: a non-SMTP address space needs SmartHosts and "
                                    "DNSRoutingEnabled $false.")


def send_auth_rules(connector):
    """SmartHostAuthMechanism without SmartHosts is accepted and stored, as Exchange does (Microsoft's own
    New-SendConnector example); it takes effect once smart hosts are set (the notes say so meanwhile)."""
    mechanism = connector.smart_host_auth_mechanism
    if mechanism in ("BasicAuth", "BasicAuthRequireTLS") and not connector.auth_username:
        yield rule("AuthenticationCredential",
                   f"AuthenticationCredential: required when SmartHostAuthMechanism is '{mechanism}'.")


def send_error_policy_rules(connector):
    if {"DowngradeCustomFailures", "UpgradeCustomFailures"} <= set(connector.error_policies):
        yield rule("ErrorPolicies", "ErrorPolicies: DowngradeCustomFailures and UpgradeCustomFailures can't be "
                                    "combined.")


def send_notes(connector):
    if connector.smart_host_auth_mechanism != "None" and not connector.smart_hosts:
        yield ("SmartHostAuthMechanism", "used only with smart hosts; this connector routes by DNS MX records, so "
                                         "no authentication is offered until SmartHosts is set")
    if connector.is_coexistence_connector:
        yield "IsCoexistenceConnector", HYBRID
    if connector.require_oorg:
        yield "RequireOorg", HYBRID


def send_tls_rules(connector):
    if connector.require_tls and connector.ignore_starttls:
        yield rule("IgnoreSTARTTLS", "IgnoreSTARTTLS: must be $false when RequireTLS is $true.")
    if connector.tls_auth_level and not connector.require_tls:
        yield rule("TlsAuthLevel", "TlsAuthLevel: can only be set when RequireTLS is $true.")
    if connector.tls_auth_level == "DomainValidation" and not connector.tls_domain:
        yield rule("TlsDomain", "TlsDomain: required when TlsAuthLevel is DomainValidation.")
    if connector.tls_domain and connector.tls_auth_level != "DomainValidation":
        yield rule("TlsDomain", "TlsDomain: can only be set when TlsAuthLevel is DomainValidation.")
    if connector.domain_secure_enabled:
        if not connector.dns_routing_enabled:
            yield rule("DomainSecureEnabled", "DomainSecureEnabled: requires DNSRoutingEnabled $true.")
        if connector.ignore_starttls:
            yield rule("DomainSecureEnabled", "DomainSecureEnabled: requires IgnoreSTARTTLS $false.")
        # Wildcards are refused in TLSSendDomainSecureList, not here: mutual TLS applies to the listed domains
        # a connector carries, so `*` with DomainSecureEnabled is fine (Edge's "to Internet" connector is one).


SEND_CONNECTOR = ObjectSchema(
    noun="SendConnector",
    model=SendConnector,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("Usage", "usage", p.Enum(*SendConnector.USAGES), create_only=True),
        Param("AddressSpaces", "address_spaces", p.AddressSpaces()),
        Param("IsScopedConnector", "is_scoped_connector", p.Bool()),
        Param("DNSRoutingEnabled", "dns_routing_enabled", p.Bool()),
        Param("SmartHosts", "smart_hosts", p.SmartHosts()),
        Param("SmartHostAuthMechanism", "smart_host_auth_mechanism", p.Enum(*SMART_HOST_AUTH)),
        Param("UseExternalDNSServersEnabled", "use_external_dns_servers_enabled", p.Bool()),
        Param("AuthenticationCredential", "authentication_credential", p.Credential()),
        Param("Port", "port", p.Int(1, 65535)),
        Param("Fqdn", "fqdn", p.String(255, check=p.check_fqdn)),
        Param("MaxMessageSize", "max_message_size", p.Size(0, MAX_INT * KB)),
        Param("ConnectionInactivityTimeOut", "connection_inactivity_timeout", p.TimeSpan(SECOND, timedelta(days=1))),
        Param("ProtocolLoggingLevel", "protocol_logging_level", p.Enum("None", "Verbose")),
        Param("RequireTLS", "require_tls", p.Bool()),
        Param("IgnoreSTARTTLS", "ignore_starttls", p.Bool()),
        Param("TlsAuthLevel", "tls_auth_level", p.Enum(*TLS_AUTH_LEVELS, nullable=True)),
        Param("TlsDomain", "tls_domain", p.String(255, check=p.check_domain_pattern)),
        Param("DomainSecureEnabled", "domain_secure_enabled", p.Bool()),
        Param("ForceHELO", "force_helo", p.Bool()),
        Param("ErrorPolicies", "error_policies", p.MultiEnum(*ERROR_POLICIES, empty="Default")),
        Param("SourceIPAddress", "source_ip_address", p.IPAddress()),
        Param("IsCoexistenceConnector", "is_coexistence_connector", p.Bool()),
        Param("RequireOorg", "require_oorg", p.Bool()),
        Param("SmtpMaxMessagesPerConnection", "smtp_max_messages_per_connection", p.Int(1, MAX_INT)),
        Param("LinkedReceiveConnector", "linked_receive_connector",
              p.ObjectRef(lambda: ReceiveConnector.objects.select_related("server"), "Receive connector",
                          identity=lambda connector: connector.identity)),
        source_servers_param(),
        Param("Enabled", "enabled", p.Bool()),
        Param("Comment", "comment", p.String(1024)),
        notes_param(send_notes),
    ],
    presets=send_usage_presets,
    rules=[unique_name(SendConnector), send_routing_rules, send_auth_rules, send_error_policy_rules, send_tls_rules,
           source_servers_rules],
    affected_servers=all_servers,
    default_columns=("Identity", "AddressSpaces", "Enabled"),
    notes=send_notes,
)


# --- Receive connectors --------------------------------------------------------------------------------------

# The usage table of docs/exchange-behaviour.md: PermissionGroups, AuthMechanism and the Bindings/RemoteIPRanges
# each usage presets (lists in the parameter types' canonical order, as a parsed value would be).
RECEIVE_USAGE_PRESETS = {
    "Client": (["ExchangeUsers"], ["Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS"], ["0.0.0.0:587"], None),
    "Internal": (["ExchangeServers", "ExchangeLegacyServers"], ["Tls", "ExchangeServer"], ["0.0.0.0:25"], None),
    "Internet": (["AnonymousUsers"], ["Tls"], None, ["0.0.0.0-255.255.255.255"]),
    "Partner": (["Partners"], ["Tls"], None, None),
    "Custom": ([], ["Tls"], None, None),
}


# Where a receive connector's defaults differ on an Edge Transport server (New-ReceiveConnector's reference): the
# Internet's clients get less time and fewer messages than the organization's own.
EDGE_RECEIVE_DEFAULTS = {
    "MessageRateLimit": ("message_rate_limit", 600),
    "ConnectionTimeout": ("connection_timeout", timedelta(minutes=5)),
    "ConnectionInactivityTimeout": ("connection_inactivity_timeout", timedelta(minutes=1)),
}


def receive_usage_presets(connector, given):
    groups, mechanisms, bindings, ranges = RECEIVE_USAGE_PRESETS[connector.usage]
    presets = {"PermissionGroups": ("permission_groups", groups), "AuthMechanism": ("auth_mechanism", mechanisms),
               "Bindings": ("bindings", bindings), "RemoteIPRanges": ("remote_ip_ranges", ranges)}
    for name, (field_name, value) in presets.items():
        if name not in given and value is not None:
            setattr(connector, field_name, list(value))
    if "Server" not in given and connector.server_id is None:
        servers = list(TransportServer.objects.all()[:2])
        if len(servers) == 1:
            connector.server = servers[0]
    if connector.server_id and not connector.fqdn:
        connector.fqdn = connector.server.fqdn
    if connector.server_id and connector.server.is_edge:
        for name, (field_name, value) in EDGE_RECEIVE_DEFAULTS.items():
            if name not in given:
                setattr(connector, field_name, value)


def receive_required(connector):
    if connector.server_id is None:
        yield rule("Server", "Server: a value is required (the organization has more than one transport server).")
    if not connector.bindings:
        yield rule("Bindings", f"Bindings: required for a receive connector of usage '{connector.usage}'.")
    if not connector.remote_ip_ranges:
        yield rule("RemoteIPRanges", f"RemoteIPRanges: required for a receive connector of usage '{connector.usage}'.")


def edge_usage_rules(connector):
    """An Edge Transport server takes mail from the Internet, partners and the organization's servers; its users'
    clients submit to the Hubs, so Client isn't a usage there (nor a page of the wizard)."""
    if connector.pk is None and connector.usage == "Client" and connector.server_id and connector.server.is_edge:
        yield rule("Usage", f"Usage: 'Client' isn't valid for a receive connector on the Edge Transport server "
                            f"{connector.server.name}. Use Custom, Internet, Internal or Partner.")


def receive_auth_rules(connector):
    mechanisms, groups = set(connector.auth_mechanism), set(connector.permission_groups)
    if "BasicAuthRequireTLS" in mechanisms and not {"BasicAuth", "Tls"} <= mechanisms:
        yield rule("AuthMechanism", "AuthMechanism: BasicAuthRequireTLS requires BasicAuth and Tls.")
    if "ExternalAuthoritative" in mechanisms:
        if mechanisms - {"ExternalAuthoritative", "Tls"}:
            yield rule("AuthMechanism", "AuthMechanism: ExternalAuthoritative can only be combined with Tls.")
        if "ExchangeServers" not in groups:
            yield rule("PermissionGroups",
                       "PermissionGroups: ExternalAuthoritative requires the ExchangeServers permission group.")
    if connector.require_tls and "Tls" not in mechanisms:
        yield rule("RequireTLS", "RequireTLS: requires the Tls authentication mechanism.")
    if connector.domain_secure_enabled and "Tls" not in mechanisms:
        yield rule("DomainSecureEnabled", "DomainSecureEnabled: requires the Tls authentication mechanism.")


def receive_edge_rules(connector):
    if connector.long_addresses_enabled and connector.server_id and connector.server.is_edge:
        yield rule("LongAddressesEnabled", "LongAddressesEnabled: can't be $true on an Edge Transport server "
                                           f"({connector.server.name}); X.400 addresses are a Hub's.")


WINDOWS_AUTH = "Integrated Windows authentication (NTLM, Kerberos) isn't offered here"


def receive_notes(connector):
    if "Integrated" in connector.auth_mechanism:
        yield "AuthMechanism", f"Integrated: {WINDOWS_AUTH}; clients authenticate with Basic authentication or TLS"
    if connector.enable_auth_gssapi:
        yield "EnableAuthGSSAPI", WINDOWS_AUTH
    if connector.extended_protection_policy != "None":
        yield "ExtendedProtectionPolicy", f"applies to Windows authentication only; {WINDOWS_AUTH}"
    if connector.suppress_xanonymous_tls:
        yield "SuppressXAnonymousTls", "X-ANONYMOUSTLS is never offered here (servers authenticate with TLS certificates)"
    if connector.max_acknowledgement_delay:
        yield ("MaxAcknowledgementDelay", "no shadow redundancy here: the 250 after DATA comes once the message is "
                                          "stored on disk, without delay")
    if connector.advertise_client_settings:
        yield "AdvertiseClientSettings", "there is no Outlook Web App here to show the settings"
    if connector.default_domain_id:
        yield "DefaultDomain", "no per-connector effect; the organization's default accepted domain is used"
    if connector.tls_domain_capabilities:
        yield "TlsDomainCapabilities", HYBRID
    if connector.orar_enabled:
        yield "OrarEnabled", "ORAR is accepted in RCPT TO and kept with the recipient, but no X.400 delivery uses it"
    if connector.binary_mime_enabled:
        yield ("BinaryMimeEnabled", "BINARYMIME isn't offered here: mail is relayed with DATA, which can't carry binary "
                                    "content")


class TlsDomainCapabilities(p.MultiValued):
    """'domain:capability' items; the domain may be NO-TLS (sessions without TLS)."""

    def parse_item(self, item):
        text = str(item).strip()
        domain, colon, capability = text.partition(":")
        if not colon:
            raise ValueError(f"'{text}' must be domain:capability, e.g. contoso.com:AcceptOorgProtocol")
        if domain.upper() != "NO-TLS":
            p.check_domain_pattern(domain)
        choice = p.Enum(*TLS_DOMAIN_CAPABILITIES).parse(capability)
        return f"{'NO-TLS' if domain.upper() == 'NO-TLS' else domain.lower()}:{choice}"


def receive_session_rules(connector):
    if connector.banner and not connector.banner.startswith("220 "):
        yield rule("Banner", "Banner: a custom banner must start with '220 '.")
    if connector.connection_inactivity_timeout >= connector.connection_timeout:
        yield rule("ConnectionInactivityTimeout",
                   "ConnectionInactivityTimeout: must be lower than ConnectionTimeout.")


def binding_conflicts(connector):
    """A shared IP:port needs remote ranges that are disjoint or nested (docs/exchange-behaviour.md "Shared
    bindings")."""
    if connector.server_id is None:
        return
    mine = [parse_binding(text) for text in connector.bindings]
    my_ranges = [parse_ip_range(text) for text in connector.remote_ip_ranges]
    others = ReceiveConnector.objects.filter(server_id=connector.server_id).exclude(pk=connector.pk)
    for other in others.select_related("server"):
        if not any(a.overlaps(parse_binding(b)) for a in mine for b in other.bindings):
            continue
        if any(_ranges_conflict(a, parse_ip_range(b)) for a in my_ranges for b in other.remote_ip_ranges):
            yield rule("Bindings", f"The values that you specified for the Bindings and RemoteIPRanges parameters "
                                   f"conflict with the settings on Receive connector \"{other.identity}\".")


def _ranges_conflict(a, b):
    if a.same_span(b):
        return True
    return a.overlaps(b) and not (a.contains_range(b) or b.contains_range(a))


def unique_name_on_server(connector):
    if connector.server_id is None:
        return ()
    return unique_name(ReceiveConnector, scope=lambda c: {"server_id": c.server_id})(connector)


def _own_server(connector):
    return [connector.server]


def _bool_params(*names):
    return [Param(name, field, p.Bool()) for name, field in names]


RECEIVE_CONNECTOR = ObjectSchema(
    noun="ReceiveConnector",
    model=ReceiveConnector,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("Server", "server", p.ObjectRef(TransportServer.objects.all, "Transport server"), create_only=True),
        Param("Usage", "usage", p.Enum(*ReceiveConnector.USAGES), create_only=True),
        Param("Bindings", "bindings", p.Bindings()),
        Param("RemoteIPRanges", "remote_ip_ranges", p.IPRanges()),
        Param("Fqdn", "fqdn", p.String(255, check=p.check_fqdn)),
        Param("Banner", "banner", p.String(512)),
        Param("PermissionGroups", "permission_groups", p.MultiEnum(*ReceiveConnector.PERMISSION_GROUPS)),
        Param("AuthMechanism", "auth_mechanism", p.MultiEnum(*ReceiveConnector.AUTH_MECHANISMS)),
        Param("Enabled", "enabled", p.Bool()),
        Param("Comment", "comment", p.String(1024)),
        Param("ProtocolLoggingLevel", "protocol_logging_level", p.Enum("None", "Verbose")),
        Param("MaxMessageSize", "max_message_size", p.Size(65536, MAX_INT, unlimited=False)),
        Param("MaxHeaderSize", "max_header_size", p.Size(1, MAX_INT, unlimited=False)),
        Param("MaxRecipientsPerMessage", "max_recipients_per_message", p.Int(1, 512000)),
        Param("MaxHopCount", "max_hop_count", p.Int(1, 500)),
        Param("MaxLocalHopCount", "max_local_hop_count", p.Int(0, 50)),
        Param("MaxInboundConnection", "max_inbound_connection", p.Int(1, MAX_INT, unlimited=True)),
        Param("MaxInboundConnectionPerSource", "max_inbound_connection_per_source", p.Int(1, 10000, unlimited=True)),
        Param("MaxInboundConnectionPercentagePerSource", "max_inbound_connection_percentage_per_source",
              p.Int(1, 100)),
        Param("ConnectionTimeout", "connection_timeout", p.TimeSpan(SECOND, timedelta(days=1))),
        Param("ConnectionInactivityTimeout", "connection_inactivity_timeout", p.TimeSpan(SECOND, timedelta(days=1))),
        Param("MessageRateLimit", "message_rate_limit", p.Int(1, MAX_INT, unlimited=True)),
        Param("MessageRateSource", "message_rate_source", p.Enum("None", "User", "IPAddress", "All")),
        Param("TarpitInterval", "tarpit_interval", p.TimeSpan(timedelta(0), timedelta(minutes=10))),
        Param("MaxProtocolErrors", "max_protocol_errors", p.Int(0, MAX_INT, unlimited=True)),
        Param("MaxLogonFailures", "max_logon_failures", p.Int(0, 10)),
        Param("SizeEnabled", "size_enabled", p.Enum("Enabled", "Disabled", "EnabledWithoutValue")),
        *_bool_params(("EightBitMimeEnabled", "eight_bit_mime_enabled"), ("PipeliningEnabled", "pipelining_enabled"),
                      ("ChunkingEnabled", "chunking_enabled"), ("BinaryMimeEnabled", "binary_mime_enabled"),
                      ("DeliveryStatusNotificationEnabled", "delivery_status_notification_enabled"),
                      ("EnhancedStatusCodesEnabled", "enhanced_status_codes_enabled"),
                      ("RequireEHLODomain", "require_ehlo_domain"), ("RequireTLS", "require_tls"),
                      ("DomainSecureEnabled", "domain_secure_enabled"),
                      ("BareLinefeedRejectionEnabled", "bare_linefeed_rejection_enabled"),
                      ("LongAddressesEnabled", "long_addresses_enabled"), ("OrarEnabled", "orar_enabled"),
                      ("SuppressXAnonymousTls", "suppress_xanonymous_tls"),
                      ("AdvertiseClientSettings", "advertise_client_settings"),
                      ("EnableAuthGSSAPI", "enable_auth_gssapi")),
        Param("MaxAcknowledgementDelay", "max_acknowledgement_delay", p.TimeSpan(timedelta(0), timedelta(minutes=10))),
        Param("DefaultDomain", "default_domain", p.ObjectRef(AcceptedDomain.objects.all, "Accepted domain")),
        Param("ExtendedProtectionPolicy", "extended_protection_policy", p.Enum(*EXTENDED_PROTECTION_POLICIES)),
        Param("TlsDomainCapabilities", "tls_domain_capabilities", TlsDomainCapabilities()),
        Param("ListenerStatus", "listener_status", p.String(), settable=False,
              getter=lambda connector: connector.listener_status),
        notes_param(receive_notes),
    ],
    presets=receive_usage_presets,
    rules=[receive_required, unique_name_on_server, edge_usage_rules, receive_edge_rules, receive_auth_rules,
           receive_session_rules, binding_conflicts],
    affected_servers=_own_server,
    default_columns=("Identity", "Bindings", "Enabled"),
    notes=receive_notes,
)


# --- Foreign connectors --------------------------------------------------------------------------------------

def foreign_presets(connector, given):
    if not connector.drop_directory:
        connector.drop_directory = connector.name
    default_source_servers(connector, given)


def foreign_rules(connector):
    if not connector.address_spaces:
        yield rule("AddressSpaces", "AddressSpaces: at least one address space is required.")
    if any(server.is_edge for server in pending_refs(connector, "source_transport_servers")):
        yield rule("SourceTransportServers", "SourceTransportServers: foreign connectors run on Hub Transport "
                                             "servers only.")


def check_drop_directory(text):
    normalized = text.replace("\\", "/")
    if normalized.startswith("/") or ".." in normalized.split("/") or ":" in normalized:
        raise ValueError(f"'{text}' must be a folder under the server's RootDropDirectoryPath (no '..' or drive)")


def drop_directory_under_root(connector):
    """The drop directory in effect is DropDirectory, or the Name when that is empty (the preset copies it at
    creation; the transport falls back to it): a Name such as '../../x' must not become a folder outside
    RootDropDirectoryPath, whether on New-, on a rename or through any other face."""
    folder = connector.drop_directory or connector.name
    try:
        check_drop_directory(folder)
    except ValueError as error:
        if folder == connector.name:
            yield rule("Name", f"Name: {error}; the drop directory defaults to the Name, so choose another Name "
                               f"or set DropDirectory.")
        else:
            yield rule("DropDirectory", f"DropDirectory: {error}.")


FOREIGN_CONNECTOR = ObjectSchema(
    noun="ForeignConnector",
    model=ForeignConnector,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("AddressSpaces", "address_spaces", p.AddressSpaces()),
        Param("IsScopedConnector", "is_scoped_connector", p.Bool()),
        source_servers_param(),
        Param("DropDirectory", "drop_directory", p.String(260, check=check_drop_directory)),
        Param("DropDirectoryQuota", "drop_directory_quota", p.Size(1, 2**53)),
        Param("MaxMessageSize", "max_message_size", p.Size(0, MAX_INT * KB)),
        Param("RelayDsnRequired", "relay_dsn_required", p.Bool()),
        Param("Enabled", "enabled", p.Bool()),
        Param("Comment", "comment", p.String(1024)),
    ],
    presets=foreign_presets,
    rules=[unique_name(ForeignConnector), foreign_rules, drop_directory_under_root, source_servers_rules],
    affected_servers=all_servers,
    default_columns=("Identity", "AddressSpaces", "Enabled"),
)


# --- Receive connector permissions (Add-/Get-/Remove-ADPermission) ------------------------------------------

class ExtendedRights(p.MultiValued):
    """Exchange's extended rights of a receive connector, in any case, as their canonical names."""

    def __init__(self):
        super().__init__(allow_empty=False)

    def parse_item(self, item):
        text = str(item).strip()
        for name in EXTENDED_RIGHTS:
            if name.lower() == text.lower():
                return name
        raise ValueError(f"'{text}' isn't an extended right of a receive connector; accepted values: "
                         f"{', '.join(EXTENDED_RIGHTS)}")


class SecurityPrincipal(p.ParamType):
    """-User: a well-known security principal (its canonical name) or a mailbox user (by name or address)."""

    def parse(self, value):
        if isinstance(value, Mailbox):
            return value
        text = "" if value is None else str(value).strip()
        for name in WELL_KNOWN_PRINCIPALS:
            if name.lower() == text.lower():
                return name
        mailbox = Mailbox.objects.filter(Q(name__iexact=text) | Q(primary_smtp_address__iexact=text)).first()
        if mailbox is None:
            raise ValueError(f"'{text}' is neither a well-known security principal ({', '.join(WELL_KNOWN_PRINCIPALS)})"
                             f" nor a mailbox user")
        return mailbox

    def format(self, value):
        return value.name if isinstance(value, Mailbox) else value or ""

    def render(self, value):
        return p.shell_quote(self.format(value))


def permission_user(entry):
    return entry.mailbox if entry.mailbox_id else entry.user


AD_PERMISSION = ObjectSchema(
    noun="ADPermission",
    model=ReceiveConnectorPermission,
    params=[
        read_only("Identity", "identity", getter=lambda entry: entry.connector.identity),
        Param("User", "user", SecurityPrincipal(), getter=permission_user),
        Param("ExtendedRights", "extended_right", ExtendedRights(), getter=lambda entry: [entry.extended_right]),
        read_only("AccessRights", "access_rights", getter=lambda entry: "ExtendedRight"),
        Param("Deny", "deny", p.Bool()),
        read_only("Inherited", "inherited", p.Bool(), getter=lambda entry: False),
        read_only("IsInherited", "inherited", p.Bool(), getter=lambda entry: False),
        read_only("Rights", "extended_right"),
    ],
    affected_servers=lambda entry: [entry.connector.server],
    default_columns=("Identity", "User", "Deny", "Inherited", "Rights"),
    identity=lambda entry: entry.connector.identity,
)


# --- Routing group connectors (coexistence with Exchange 2003) ---------------------------------------------------

class RoutingGroupServers(p.MultiValued):
    """SourceTransportServers/TargetTransportServers of a routing group connector: Hub Transport servers (Exchange
    2010's routing group) or legacy Exchange servers, by name; kept as their names."""

    def parse_item(self, item):
        text = str(getattr(item, "name", item)).strip()
        for server in [*TransportServer.objects.hubs(), *LegacyExchangeServer.objects.all()]:
            if text.lower() in (server.name.lower(), server.fqdn.lower()):   # host name or FQDN, as Exchange takes
                return server.name
        raise ValueError(f"'{text}' is neither a Hub Transport server nor a legacy Exchange server of this "
                         f"organization")


def routing_group_of(server_names):
    """The routing groups the servers are in (Exchange 2010's for Hubs, a legacy server's own)."""
    legacy = {server.name: server.routing_group for server in
              LegacyExchangeServer.objects.filter(name__in=server_names).select_related("routing_group")}
    exchange_2010 = RoutingGroup.objects.filter(name=RoutingGroup.EXCHANGE_2010).first()
    return list(dict.fromkeys(legacy.get(name, exchange_2010) for name in server_names))


SERVERS_FIELD = {"routing_group": "source_transport_servers", "target_routing_group": "target_transport_servers"}


def routing_group_connector_groups(connector):
    """The connector's routing group and target routing group follow from its servers (set here, before the
    checks that need them): each side's servers are in one routing group, and one side is Exchange 2010's (it
    connects Exchange 2010 to Exchange 2003)."""
    for name, field_name in (("SourceTransportServers", "routing_group"),
                             ("TargetTransportServers", "target_routing_group")):
        servers = getattr(connector, SERVERS_FIELD[field_name])
        groups = routing_group_of(servers)
        if not servers:
            yield rule(name, f"{name}: at least one server is required.")
        elif len(groups) > 1:
            yield rule(name, f"{name}: the servers must be in one routing group; they are in "
                             f"{', '.join(group.name for group in groups)}.")
        else:
            setattr(connector, field_name, groups[0])
    source, target = connector.routing_group_id, connector.target_routing_group_id
    if source and target:
        if source == target:
            yield rule("TargetTransportServers", "TargetTransportServers: the target servers must be in another "
                                                 "routing group than the source servers.")
        elif connector.routing_group.legacy and connector.target_routing_group.legacy:
            yield rule("TargetTransportServers", f"TargetTransportServers: one side must be Exchange 2010's routing "
                                                 f"group ({RoutingGroup.EXCHANGE_2010}); connectors between legacy "
                                                 f"routing groups are Exchange 2003's.")


def unique_name_in_group(connector):
    if connector.routing_group_id is None:
        return ()
    return unique_name(RoutingGroupConnector, scope=lambda c: {"routing_group_id": c.routing_group_id})(connector)


def routing_group_connector_notes(connector):
    if connector.public_folder_referrals_enabled:
        yield ("PublicFolderReferralsEnabled", "there are no public folders here, so no client is referred to "
                                               "them across the connector")


def _sending_hubs(connector):
    """Every Hub reloads: each routes legacy mailboxes' mail over the connectors (handing it to a source Hub when
    it isn't one)."""
    return TransportServer.objects.hubs()


ROUTING_GROUP_CONNECTOR = ObjectSchema(
    noun="RoutingGroupConnector",
    model=RoutingGroupConnector,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("SourceTransportServers", "source_transport_servers", RoutingGroupServers(allow_empty=False),
              mandatory=True),
        Param("TargetTransportServers", "target_transport_servers", RoutingGroupServers(allow_empty=False),
              mandatory=True),
        Param("Cost", "cost", p.Int(1, 100)),
        Param("MaxMessageSize", "max_message_size", p.Size(64 * KB, 2**63 - 1)),
        Param("PublicFolderReferralsEnabled", "public_folder_referrals_enabled", p.Bool()),
        read_only("SourceRoutingGroup", "routing_group", getter=lambda connector: connector.routing_group.name),
        read_only("TargetRoutingGroup", "target_routing_group",
                  getter=lambda connector: connector.target_routing_group.name),
        read_only("RoutingGroup", "routing_group_name", getter=lambda connector: connector.routing_group.name),
        notes_param(routing_group_connector_notes),
    ],
    rules=[routing_group_connector_groups, unique_name_in_group],
    affected_servers=_sending_hubs,
    default_columns=("Name", "SourceRoutingGroup", "TargetRoutingGroup", "Cost"),
    notes=routing_group_connector_notes,
)
