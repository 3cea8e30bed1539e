"""The immutable configuration a transport server runs: plain frozen dataclasses built from the models.

The SMTP hot path reads only this, never the ORM, so it can be tested without Django and a configuration
change is applied by swapping one object.
"""
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings

from exchange_console.lib.ipranges import parse_binding, parse_ip_range
from transport.dsn import DsnScope, DsnSettings
from transport.logs.tracking import TrackingSettings
from transport.remote_domains import RemoteDomainConfig


@dataclass(frozen=True)
class ReceiveConnectorConfig:
    identity: str
    name: str
    bindings: tuple            # of lib.ipranges.Binding
    remote_ip_ranges: tuple    # of lib.ipranges.IPRange
    fqdn: str
    banner: str
    permission_groups: frozenset
    auth_mechanism: frozenset
    enabled: bool
    protocol_logging_level: str
    max_message_size: int
    max_header_size: int
    max_recipients_per_message: int
    max_hop_count: int
    max_local_hop_count: int
    max_inbound_connection: int          # None = unlimited
    max_inbound_connection_per_source: int
    max_inbound_connection_percentage_per_source: int
    connection_timeout: timedelta
    connection_inactivity_timeout: timedelta
    message_rate_limit: int              # messages per minute, None = unlimited
    message_rate_source: str
    tarpit_interval: timedelta
    max_protocol_errors: int             # None = unlimited
    max_logon_failures: int
    size_enabled: str
    eight_bit_mime_enabled: bool
    pipelining_enabled: bool
    delivery_status_notification_enabled: bool
    enhanced_status_codes_enabled: bool
    require_ehlo_domain: bool
    require_tls: bool
    domain_secure_enabled: bool
    # Add-ADPermission entries: (principal in lowercase, a mailbox user's by its address; extended right; deny)
    permissions: tuple = ()
    bare_linefeed_rejection_enabled: bool = False
    chunking_enabled: bool = False         # CHUNKING: BDAT
    long_addresses_enabled: bool = False   # XLONGADDR: 8,000-character lines, addresses up to 1,860
    orar_enabled: bool = False             # XORAR: RCPT TO's ORAR parameter

    @property
    def verbose_logging(self):
        return self.protocol_logging_level == "Verbose"


@dataclass(frozen=True)
class ProtocolLogSettings:
    directory: Path
    max_file_size: int
    max_age: timedelta
    max_directory_size: int


@dataclass(frozen=True)
class Credential:
    """What AUTH checks a mailbox login against: its name or address and the password hash (never plain)."""
    name: str
    address: str
    password_hash: str


@dataclass(frozen=True)
class ServerSnapshot:
    name: str
    fqdn: str
    role: str
    site: str
    receive_connectors: tuple
    accepted_domains: tuple             # (domain pattern, DomainType)
    max_receive_size: int               # TransportConfig; None = unlimited
    max_recipient_envelope_limit: int
    tls_receive_domain_secure_list: tuple
    certificate_pem: bytes              # the certificate enabled for SMTP, with its chain
    private_key_pem: bytes
    organization_certificates: tuple    # (sha256 hex, PEM) of every transport server's SMTP certificate
    trusted_roots_pem: bytes            # CA certificates that client certificates are verified against
    credentials: tuple                  # of Credential
    protocol_log: ProtocolLogSettings
    tracking: TrackingSettings
    queue_directory: Path
    queue_sync: str = "fsync"                     # TRANSPORT_QUEUE_SYNC: how the store makes a group durable
    organization_hosts: frozenset = frozenset()   # FQDNs of the organization's servers and receive connectors
    postmaster_address: str = ""                  # what RCPT TO:<postmaster> stands for
    configuration_stamp: datetime = None           # the latest WhenChanged among the objects read
    # An Edge's: the organization's recipients as EdgeSync brought them (SHA-256 of each address in lower case;
    # None until EdgeSync brought them: no recipient filtering then), and InternalSMTPServers (IPRanges: the
    # organization's own SMTP servers in front of the Edge, which it relays for).
    recipient_hashes: frozenset = None
    internal_smtp_servers: tuple = ()
    unfiltered_domains: frozenset = frozenset()   # accepted domains (lower case) with AddressBookEnabled $false
    legacy_certificates: tuple = ()     # (sha256 hex, PEM) of legacy Exchange servers' certificates

    @property
    def is_edge(self):
        return self.role == "Edge"

    def enabled_connectors(self):
        return tuple(connector for connector in self.receive_connectors if connector.enabled)


@dataclass(frozen=True)
class ServerConfiguration:
    """What one transport server runs, read at once: its receive side and its send side. The worker holds one
    and swaps it for a new one on each reload; nothing in it changes afterwards."""
    receive: "ServerSnapshot"
    send: "SendSnapshot"

    @property
    def name(self):
        return self.receive.name


def build_configuration(server_name):
    """Read the configuration of one server from the database (off the hot path). A read only: it creates
    nothing (a server's certificate comes from setup or the write path), writes nothing, sends nothing."""
    from exchange_console.organization.models import TransportConfig, TransportServer

    server = TransportServer.objects.select_related("site").get(name__iexact=server_name)
    config = TransportConfig.objects.first() or TransportConfig()
    certificate = SmtpCertificate.of(server)
    return ServerConfiguration(receive=_receive_snapshot(server, config, certificate),
                               send=_send_snapshot(server, config, certificate))


def build_snapshot(server_name):
    """The receive side of the server's configuration."""
    return build_configuration(server_name).receive


@dataclass(frozen=True)
class SmtpCertificate:
    """The certificate a server presents for SMTP (with its chain), its private key, and the trusted roots
    that certificates presented to it are verified against. Empty when none is enabled for SMTP: the server
    then offers no STARTTLS and presents no client certificate."""
    certificate_pem: bytes
    private_key_pem: bytes
    trusted_roots_pem: bytes

    @classmethod
    def of(cls, server):
        from exchange_console.certificates.models import ExchangeCertificate, trusted_roots_pem

        found = ExchangeCertificate.objects.filter(server=server, services="SMTP").exclude(
            private_key_encrypted="").last()   # the other side's servers' certificates come without their keys
        return cls(found.certificate_pem.encode() if found else b"", found.private_key_pem() if found else b"",
                   trusted_roots_pem(server))


def _receive_snapshot(server, config, certificate):
    from exchange_console.certificates.models import ExchangeCertificate
    from exchange_console.connectors.models import ReceiveConnector
    from exchange_console.organization.models import AcceptedDomain, Mailbox
    from transport.logs.tracking import tracking_settings_for

    connectors = list(ReceiveConnector.objects.for_server(server).prefetch_related("permissions__mailbox"))
    stamp = max([server.modified, config.modified or server.modified, *(c.modified for c in connectors),
                 *AcceptedDomain.objects.values_list("modified", flat=True),
                 *Mailbox.objects.values_list("modified", flat=True)])
    return ServerSnapshot(
        name=server.name, fqdn=server.fqdn, role=server.role, site=server.site.name,
        receive_connectors=tuple(_connector_config(connector, server) for connector in connectors),
        accepted_domains=tuple(AcceptedDomain.objects.values_list("domain_name", "domain_type")),
        max_receive_size=config.max_receive_size,
        max_recipient_envelope_limit=config.max_recipient_envelope_limit,
        tls_receive_domain_secure_list=tuple(domain.lower() for domain in config.tls_receive_domain_secure_list),
        certificate_pem=certificate.certificate_pem, private_key_pem=certificate.private_key_pem,
        organization_certificates=_organization_certificates(),
        trusted_roots_pem=certificate.trusted_roots_pem,
        credentials=tuple(Credential(name.lower(), address.lower(), password) for name, address, password
                          in Mailbox.objects.values_list("name", "primary_smtp_address", "password")),
        protocol_log=ProtocolLogSettings(
            server.resolve_path(server.receive_protocol_log_path), server.receive_protocol_log_max_file_size,
            server.receive_protocol_log_max_age, server.receive_protocol_log_max_directory_size),
        tracking=tracking_settings_for(server),
        queue_directory=queue_directory(server), queue_sync=settings.TRANSPORT_QUEUE_SYNC, configuration_stamp=stamp,
        organization_hosts=_organization_hosts(),
        postmaster_address=config.postmaster_address(),
        recipient_hashes=_recipient_hashes(server),
        internal_smtp_servers=tuple(parse_ip_range(text) for text in config.internal_smtp_servers),
        unfiltered_domains=frozenset(domain.lower() for domain in AcceptedDomain.objects.filter(
            address_book_enabled=False).values_list("domain_name", flat=True)),
        legacy_certificates=() if server.is_edge else _legacy_certificates(),
    )


def _legacy_certificates():
    """(SHA-256, PEM) of the certificates legacy (Exchange 2003) servers present when they send here: what makes a
    client one of the ExchangeLegacyServers."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from exchange_console.organization.models import LegacyExchangeServer

    return tuple((hashlib.sha256(x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)).hexdigest(),
                  pem) for pem in LegacyExchangeServer.objects.exclude(certificate_pem="").values_list(
                      "certificate_pem", flat=True))


def _recipient_hashes(server):
    from exchange_console.edge.models import EdgeRecipient, EdgeSyncState

    if not server.is_edge:
        return None
    state = EdgeSyncState.objects.filter(server=server).first()
    if state is None or "Recipient" not in state.digests:
        return None
    return frozenset(EdgeRecipient.objects.values_list("address_hash", flat=True))


def _organization_certificates():
    """(SHA-256, PEM) of the SMTP certificate of every server known here: the organization's, and across an Edge
    subscription the other side's (what ExchangeServer authentication trusts: Direct Trust)."""
    from exchange_console.certificates.models import ExchangeCertificate

    return tuple(ExchangeCertificate.objects.filter(services="SMTP").values_list("thumbprint_sha256",
                                                                                 "certificate_pem"))


def queue_directory(server):
    """The server's queue store: Queue in its data folder."""
    return server.resolve_path("Queue")


def _organization_hosts():
    from exchange_console.connectors.models import ReceiveConnector
    from exchange_console.organization.models import TransportServer

    return frozenset(fqdn.lower() for fqdn in [
        *TransportServer.objects.values_list("fqdn", flat=True),
        *ReceiveConnector.objects.exclude(fqdn="").values_list("fqdn", flat=True)])


def _organization_bindings():
    """(address, port) of every receive connector of the organization bound to one address."""
    from exchange_console.connectors.models import ReceiveConnector

    bindings = (parse_binding(text) for texts in ReceiveConnector.objects.values_list("bindings", flat=True)
                for text in texts)
    return frozenset((str(binding.address), binding.port) for binding in bindings if not binding.is_all_addresses)


def _connector_config(connector, server):
    return ReceiveConnectorConfig(
        identity=connector.identity, name=connector.name,
        bindings=tuple(parse_binding(text) for text in connector.bindings),
        remote_ip_ranges=tuple(parse_ip_range(text) for text in connector.remote_ip_ranges),
        fqdn=connector.fqdn or server.fqdn, banner=connector.banner,
        permission_groups=frozenset(connector.permission_groups),
        auth_mechanism=frozenset(connector.auth_mechanism), enabled=connector.enabled,
        protocol_logging_level=connector.protocol_logging_level,
        max_message_size=connector.max_message_size, max_header_size=connector.max_header_size,
        max_recipients_per_message=connector.max_recipients_per_message,
        max_hop_count=connector.max_hop_count, max_local_hop_count=connector.max_local_hop_count,
        max_inbound_connection=connector.max_inbound_connection,
        max_inbound_connection_per_source=connector.max_inbound_connection_per_source,
        max_inbound_connection_percentage_per_source=connector.max_inbound_connection_percentage_per_source,
        connection_timeout=connector.connection_timeout,
        connection_inactivity_timeout=connector.connection_inactivity_timeout,
        message_rate_limit=connector.message_rate_limit, message_rate_source=connector.message_rate_source,
        tarpit_interval=connector.tarpit_interval, max_protocol_errors=connector.max_protocol_errors,
        max_logon_failures=connector.max_logon_failures, size_enabled=connector.size_enabled,
        eight_bit_mime_enabled=connector.eight_bit_mime_enabled,
        pipelining_enabled=connector.pipelining_enabled,
        delivery_status_notification_enabled=connector.delivery_status_notification_enabled,
        enhanced_status_codes_enabled=connector.enhanced_status_codes_enabled,
        require_ehlo_domain=connector.require_ehlo_domain, require_tls=connector.require_tls,
        domain_secure_enabled=connector.domain_secure_enabled,
        permissions=tuple((entry.principal.lower(), entry.extended_right, entry.deny)
                          for entry in connector.permissions.all()),
        bare_linefeed_rejection_enabled=connector.bare_linefeed_rejection_enabled,
        chunking_enabled=connector.chunking_enabled,
        long_addresses_enabled=connector.long_addresses_enabled, orar_enabled=connector.orar_enabled,
    )


# --- Send side: what the categorizer, the router and delivery read ----------------------------------------------

@dataclass(frozen=True)
class SendConnectorConfig:
    """A send connector (SMTP to smart hosts or MX hosts)."""
    name: str
    address_spaces: tuple                # of lib.domains.AddressSpace
    enabled: bool
    is_scoped_connector: bool
    source_transport_servers: tuple      # server names
    max_message_size: int                # None = unlimited
    dns_routing_enabled: bool
    use_external_dns_servers_enabled: bool
    smart_hosts: tuple
    smart_host_auth_mechanism: str
    authentication_credential: tuple     # (user, password) or None
    port: int
    fqdn: str
    connection_inactivity_timeout: timedelta
    protocol_logging_level: str
    require_tls: bool
    ignore_starttls: bool
    tls_auth_level: str                  # None when RequireTLS is off
    tls_domain: str
    domain_secure_enabled: bool
    force_helo: bool
    smtp_max_messages_per_connection: int
    usage: str = "Custom"
    linked_receive_connector: str = ""   # identity 'SERVER\Name' of the receive connector linked to it
    # A Hub's view of a connector whose source is a subscribed Edge: mail for it goes to the Edge over SMTP
    # (Exchange's implicit intra-organization connector), not through another worker's queue.
    edge_relay: bool = False
    peer_servers: tuple = ()             # where an edge relay goes: a Hub's to its Edges, an Edge's to its Hubs
    source_ip_address: str = "0.0.0.0"   # the local address outgoing connections come from (0.0.0.0: any)
    error_policies: frozenset = frozenset()   # DowngradeDnsFailures, DowngradeCustomFailures, UpgradeCustomFailures
    # A routing group connector to a legacy (Exchange 2003) routing group, as the transport runs it: no address
    # spaces; mail for mailboxes homed in `target_routing_group` goes to its target servers (the smart hosts).
    target_routing_group: str = ""
    cost: int = 1                        # a routing group connector's Cost
    is_foreign = False

    @property
    def smart_host_authentication(self):
        """SmartHostAuthMechanism as it applies: to smart hosts only (stored without them, MX hosts never get it)."""
        return self.smart_host_auth_mechanism if self.smart_hosts else "None"


@dataclass(frozen=True)
class ForeignConnectorConfig:
    """A foreign connector: delivery writes drop files instead of speaking SMTP."""
    name: str
    address_spaces: tuple
    enabled: bool
    is_scoped_connector: bool
    source_transport_servers: tuple
    max_message_size: int
    drop_directory: str
    drop_directory_quota: int
    relay_dsn_required: bool = False     # a relayed DSN for recipients that asked for success notification
    is_foreign = True
    linked_receive_connector = ""
    target_routing_group = ""


@dataclass(frozen=True)
class SendServerConfig:
    """The transport server settings delivery follows (retry, DNS, connection limits, folders)."""
    name: str
    fqdn: str
    site: str
    transient_failure_retry_count: int
    transient_failure_retry_interval: timedelta
    outbound_connection_failure_retry_interval: timedelta
    message_retry_interval: timedelta
    delay_notification_timeout: timedelta
    message_expiration_timeout: timedelta
    max_outbound_connections: int
    max_per_domain_outbound_connections: int
    internal_dns_servers: tuple
    external_dns_servers: tuple
    drop_root: Path                      # RootDropDirectoryPath resolved under EXCHANGE_DATA_DIR/<server>
    data_dir: Path                       # EXCHANGE_DATA_DIR/<server>
    send_protocol_log: ProtocolLogSettings
    tracking: TrackingSettings


@dataclass(frozen=True)
class SendSnapshot:
    """Everything the send side of one server reads: itself, the sites of all servers, the connectors,
    the domains, the mailboxes and the organization's transport settings."""
    server: SendServerConfig
    server_sites: dict                   # every server name -> its site
    send_connectors: tuple
    foreign_connectors: tuple
    accepted_domains: tuple              # (domain pattern, DomainType)
    remote_domains: tuple                # (domain pattern, transport.remote_domains.RemoteDomainConfig)
    mailboxes: frozenset                 # primary SMTP addresses, lower case
    max_recipient_envelope_limit: int
    postmaster_address: str
    tls_send_domain_secure_list: frozenset
    certificate_pem: bytes               # this server's SMTP certificate: the client certificate of mutual TLS
    private_key_pem: bytes
    trusted_roots_pem: bytes
    organization_hosts: frozenset = frozenset()      # FQDNs of the organization's servers and receive connectors
    organization_bindings: frozenset = frozenset()   # (address, port) its receive connectors listen on
    organization_certificates_pem: bytes = b""       # the SMTP certificates of every server (Direct Trust)
    delivers_to_mailboxes: bool = True               # False on an Edge: its accepted domains go to the Hubs
    site_routes: dict = None             # site -> lib.sitelinks.SiteRoute from this server's site, those reachable
    dsn: DsnSettings = DsnSettings()     # TransportConfig's DSN settings
    max_send_size: int = None            # TransportConfig MaxSendSize: what the organization's senders may send
    routing_group_connectors: tuple = ()  # to legacy routing groups (SendConnectorConfig with target_routing_group)
    legacy_mailboxes: dict = None        # address (lower case) -> routing group of the legacy server it is homed on

    @property
    def connectors(self):
        return self.send_connectors + self.foreign_connectors + self.routing_group_connectors

    def connector(self, name):
        return next((connector for connector in self.connectors if connector.name == name), None)

    def linked_connector(self, received_connector):
        """The enabled send connector linked to the receive connector a message arrived on (identity), if any:
        such a message leaves through it, whatever its recipients."""
        identity = received_connector.lower()
        return next((connector for connector in self.send_connectors if connector.enabled
                     and connector.linked_receive_connector.lower() == identity and identity), None)


def build_send_snapshot(server_name):
    """The send side of the server's configuration."""
    return build_configuration(server_name).send


def _send_snapshot(server, config, certificate):
    from exchange_console.connectors.models import ForeignConnector, SendConnector
    from exchange_console.organization.models import AcceptedDomain, Mailbox, RemoteDomain, TransportServer

    return SendSnapshot(
        server=_send_server_config(server),
        server_sites=dict(TransportServer.objects.values_list("name", "site__name")),
        send_connectors=_edge_view(server, tuple(
            _send_connector_config(connector, server.fqdn) for connector
            in SendConnector.objects.prefetch_related("source_transport_servers")
            .select_related("linked_receive_connector__server"))),
        foreign_connectors=tuple(_foreign_connector_config(connector) for connector
                                 in ForeignConnector.objects.prefetch_related("source_transport_servers")),
        accepted_domains=tuple(AcceptedDomain.objects.values_list("domain_name", "domain_type")),
        remote_domains=tuple((domain.domain_name, _remote_domain_config(domain))
                             for domain in RemoteDomain.objects.all()),
        mailboxes=frozenset(address.lower() for address
                            in Mailbox.objects.values_list("primary_smtp_address", flat=True)),
        max_recipient_envelope_limit=config.max_recipient_envelope_limit,
        postmaster_address=config.postmaster_address(),
        tls_send_domain_secure_list=frozenset(domain.lower() for domain in config.tls_send_domain_secure_list),
        certificate_pem=certificate.certificate_pem, private_key_pem=certificate.private_key_pem,
        trusted_roots_pem=certificate.trusted_roots_pem,
        organization_hosts=_organization_hosts(), organization_bindings=_organization_bindings(),
        organization_certificates_pem="".join(pem for _, pem in _organization_certificates()).encode(),
        delivers_to_mailboxes=not server.is_edge,
        site_routes=_site_routes(server.site.name),
        dsn=_dsn_settings(config), max_send_size=config.max_send_size,
        routing_group_connectors=() if server.is_edge else _routing_group_connectors(server.fqdn),
        legacy_mailboxes={} if server.is_edge else _legacy_mailboxes(),
    )


def _routing_group_connectors(server_fqdn):
    """The routing group connectors from Exchange 2010's routing group to legacy ones, as send connectors whose
    smart hosts are their target servers (on the port of the first one's SMTP virtual server)."""
    from exchange_console.connectors.models import RoutingGroupConnector
    from exchange_console.organization.models import LegacyExchangeServer

    legacy = {server.name: server for server in LegacyExchangeServer.objects.all()}
    connectors = RoutingGroupConnector.objects.select_related("routing_group", "target_routing_group").filter(
        routing_group__legacy=False, target_routing_group__legacy=True)
    return tuple(_routing_group_connector_config(connector, legacy, server_fqdn) for connector in connectors)


def _routing_group_connector_config(connector, legacy, server_fqdn):
    targets = [legacy[name] for name in connector.target_transport_servers if name in legacy]
    return SendConnectorConfig(
        name=connector.identity, address_spaces=(), enabled=True, is_scoped_connector=False,
        source_transport_servers=tuple(sorted(connector.source_transport_servers)),
        max_message_size=connector.max_message_size, dns_routing_enabled=False,
        use_external_dns_servers_enabled=False, smart_hosts=tuple(target.fqdn for target in targets),
        smart_host_auth_mechanism="None", authentication_credential=None,
        port=targets[0].port if targets else 25, fqdn=server_fqdn,
        connection_inactivity_timeout=timedelta(minutes=10), protocol_logging_level="None", require_tls=False,
        ignore_starttls=False, tls_auth_level=None, tls_domain="", domain_secure_enabled=False, force_helo=False,
        smtp_max_messages_per_connection=20, target_routing_group=connector.target_routing_group.name,
        cost=connector.cost)


def _legacy_mailboxes():
    """Mailboxes in a legacy server's database, by address: the routing group their mail is routed to."""
    from exchange_console.organization.models import LegacyExchangeServer, Mailbox

    groups = dict(LegacyExchangeServer.objects.values_list("name", "routing_group__name"))
    return {address.lower(): groups[database.partition("\\")[0]] for address, database
            in Mailbox.objects.exclude(database="").values_list("primary_smtp_address", "database")
            if database.partition("\\")[0] in groups}


def _dsn_settings(config):
    def scope(prefix):
        return DsnScope(
            send_html=getattr(config, f"{prefix}_dsn_send_html"),
            max_message_attach_size=getattr(config, f"{prefix}_dsn_max_message_attach_size"),
            reporting_authority=getattr(config, f"{prefix}_dsn_reporting_authority"),
            delay_dsn_enabled=getattr(config, f"{prefix}_delay_dsn_enabled"))
    return DsnSettings(external=scope("external"), internal=scope("internal"),
                       copy_codes=frozenset(config.generate_copy_of_dsn_for))


def _remote_domain_config(domain):
    return RemoteDomainConfig(
        name=domain.name, domain_name=domain.domain_name, auto_reply_enabled=domain.auto_reply_enabled,
        auto_forward_enabled=domain.auto_forward_enabled, allowed_oof_type=domain.allowed_oof_type,
        delivery_report_enabled=domain.delivery_report_enabled, ndr_enabled=domain.ndr_enabled,
        ndr_diagnostic_info_enabled=domain.ndr_diagnostic_info_enabled, content_type=domain.content_type,
        character_set=domain.character_set, non_mime_character_set=domain.non_mime_character_set,
        line_wrap_size=domain.line_wrap_size, display_sender_name=domain.display_sender_name,
        use_simple_display_name=domain.use_simple_display_name)


def _site_routes(site):
    """The least-cost paths from `site` over the site links, computed once per configuration; hub sites are
    those with HubSiteEnabled and a Hub server to relay."""
    from exchange_console.lib.sitelinks import least_cost_routes
    from exchange_console.organization.models import AdSiteLink, TransportServer

    links = [(tuple(linked.name for linked in link.sites.all()), link.cost, link.max_message_size)
             for link in AdSiteLink.objects.prefetch_related("sites")]
    hub_sites = set(TransportServer.objects.hubs().filter(site__hub_site_enabled=True)
                    .values_list("site__name", flat=True))
    return least_cost_routes(site, links, hub_sites)


def _send_server_config(server):
    from transport.logs.tracking import tracking_settings_for

    data_dir = server.data_directory
    return SendServerConfig(
        name=server.name, fqdn=server.fqdn, site=server.site.name,
        transient_failure_retry_count=server.transient_failure_retry_count,
        transient_failure_retry_interval=server.transient_failure_retry_interval,
        outbound_connection_failure_retry_interval=server.outbound_connection_failure_retry_interval,
        message_retry_interval=server.message_retry_interval,
        delay_notification_timeout=server.delay_notification_timeout,
        message_expiration_timeout=server.message_expiration_timeout,
        max_outbound_connections=server.max_outbound_connections,
        max_per_domain_outbound_connections=server.max_per_domain_outbound_connections,
        internal_dns_servers=tuple(server.internal_dns_servers),
        external_dns_servers=tuple(server.external_dns_servers),
        drop_root=server.resolve_path(server.root_drop_directory_path or "TransportRoles/Drop"),
        data_dir=data_dir,
        send_protocol_log=ProtocolLogSettings(
            server.resolve_path(server.send_protocol_log_path), server.send_protocol_log_max_file_size,
            server.send_protocol_log_max_age, server.send_protocol_log_max_directory_size),
        tracking=tracking_settings_for(server),
    )


def _source_names(connector):
    return tuple(sorted(server.name for server in connector.source_transport_servers.all()))


def _address_spaces(connector):
    from exchange_console.lib.domains import parse_address_space

    return tuple(parse_address_space(text) for text in connector.address_spaces)


def _send_connector_config(connector, server_fqdn):
    return SendConnectorConfig(
        name=connector.name, address_spaces=_address_spaces(connector), enabled=connector.enabled,
        is_scoped_connector=connector.is_scoped_connector, source_transport_servers=_source_names(connector),
        max_message_size=connector.max_message_size, dns_routing_enabled=connector.dns_routing_enabled,
        use_external_dns_servers_enabled=connector.use_external_dns_servers_enabled,
        smart_hosts=tuple(connector.smart_hosts), smart_host_auth_mechanism=connector.smart_host_auth_mechanism,
        authentication_credential=connector.authentication_credential, port=connector.port,
        fqdn=connector.fqdn or server_fqdn, connection_inactivity_timeout=connector.connection_inactivity_timeout,
        protocol_logging_level=connector.protocol_logging_level, require_tls=connector.require_tls,
        ignore_starttls=connector.ignore_starttls, tls_auth_level=connector.tls_auth_level,
        tls_domain=connector.tls_domain, domain_secure_enabled=connector.domain_secure_enabled,
        force_helo=connector.force_helo,
        smtp_max_messages_per_connection=connector.smtp_max_messages_per_connection, usage=connector.usage,
        linked_receive_connector=linked.identity if (linked := connector.linked_receive_connector) else "",
        source_ip_address=connector.source_ip_address, error_policies=frozenset(connector.error_policies),
    )


def _foreign_connector_config(connector):
    return ForeignConnectorConfig(
        name=connector.name, address_spaces=_address_spaces(connector), enabled=connector.enabled,
        is_scoped_connector=connector.is_scoped_connector, source_transport_servers=_source_names(connector),
        max_message_size=connector.max_message_size, drop_directory=connector.drop_directory or connector.name,
        drop_directory_quota=connector.drop_directory_quota, relay_dsn_required=connector.relay_dsn_required,
    )


# --- Edge subscriptions: how each side sees the EdgeSync connectors ----------------------------------------------

def _edge_view(server, connectors):
    """On a Hub, a connector whose sources are subscribed Edges is reached by relaying to an Edge over SMTP; on an
    Edge, `--` stands for the organization's accepted domains (address space) and its site's Hubs (smart host)."""
    if server.is_edge:   # its own connectors only (in its database they are all its own)
        return tuple(_on_edge(connector, server) for connector in connectors
                     if server.name in connector.source_transport_servers)
    edges = _subscribed_edges()
    return tuple(_to_edge(connector, edges) if connector.source_transport_servers
                 and all(source in edges for source in connector.source_transport_servers) else connector
                 for connector in connectors)


@dataclass(frozen=True)
class SubscribedEdge:
    fqdn: str
    smtp_port: int
    hubs: tuple     # the Hub servers of the site it is subscribed to


def _subscribed_edges():
    from exchange_console.edge.models import EdgeSubscription
    from exchange_console.organization.models import TransportServer

    hubs = {}
    for name, site_id in TransportServer.objects.local().values_list("name", "site_id"):
        hubs.setdefault(site_id, []).append(name)
    return {subscription.server.name: SubscribedEdge(subscription.server.fqdn, subscription.smtp_port,
                                                     tuple(sorted(hubs.get(subscription.site_id, ()))))
            for subscription in EdgeSubscription.objects.select_related("server")}


def _to_edge(connector, edges):
    """The connector as the Hubs of the Edges' sites run it: smart hosts the Edges, over TLS, the Edge's
    certificate verified against the one its subscription brought, the Hub authenticating as an Exchange server."""
    sources = [edges[name] for name in connector.source_transport_servers]
    return replace(connector, source_transport_servers=tuple(sorted({hub for edge in sources for hub in edge.hubs})),
                   smart_hosts=tuple(edge.fqdn for edge in sources), port=sources[0].smtp_port,
                   dns_routing_enabled=False, smart_host_auth_mechanism="ExchangeServer", require_tls=True,
                   ignore_starttls=False, tls_auth_level="CertificateValidation", tls_domain="", usage="Internal",
                   authentication_credential=None, edge_relay=True,
                   peer_servers=tuple(connector.source_transport_servers))


def _on_edge(connector, server):
    from exchange_console.lib.domains import ALL_ACCEPTED_DOMAINS, SITE_HUB_SERVERS, AddressSpace
    from exchange_console.organization.models import AcceptedDomain, DomainType

    spaces = connector.address_spaces
    if any(space.address == ALL_ACCEPTED_DOMAINS for space in spaces):
        domains = AcceptedDomain.objects.exclude(domain_type=DomainType.EXTERNAL_RELAY).values_list(
            "domain_name", flat=True)
        spaces = tuple(space for space in spaces if space.address != ALL_ACCEPTED_DOMAINS) + tuple(
            AddressSpace("SMTP", domain.lower(), space.cost) for space in connector.address_spaces
            if space.address == ALL_ACCEPTED_DOMAINS for domain in domains)
    if SITE_HUB_SERVERS not in connector.smart_hosts:
        return replace(connector, address_spaces=spaces)
    hubs = _edge_hubs(server)
    return replace(connector, address_spaces=spaces, smart_hosts=tuple(hub["fqdn"] for hub in hubs),
                   port=hubs[0]["smtp_port"] if hubs else connector.port, require_tls=True,
                   tls_auth_level="CertificateValidation", edge_relay=True,
                   peer_servers=tuple(hub["name"] for hub in hubs))


def _edge_hubs(server):
    """[{name, fqdn, smtp_port}] of the Hubs `--` leads to from this Edge: as EdgeSync brought them (in the Edge's
    database), or, read in the organization's (Get-MailRoute explaining the Edge's hop), as its subscription has them."""
    from exchange_console.edge.models import EdgeSubscription, EdgeSyncState
    from exchange_console.organization.models import TransportServer

    state = EdgeSyncState.objects.filter(server=server).first()
    if state is not None:
        return state.hub_servers
    subscription = EdgeSubscription.objects.filter(server=server).first()
    if subscription is None:
        return []
    return [{"name": hub.name, "fqdn": hub.fqdn, "smtp_port": hub.exchange_smtp_port}
            for hub in TransportServer.objects.local().filter(site=subscription.site).order_by("name")]
