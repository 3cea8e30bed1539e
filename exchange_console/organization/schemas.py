"""Schemas of the organization-level objects: parameters under Exchange's names, and their rules."""
import codecs
import ipaddress
import os
import re
import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.contrib.auth.hashers import make_password

from exchange_console import params as p
from exchange_console.accounts.rbac import is_organization_manager
from exchange_console.lib import domains
from exchange_console.organization.models import (
    NULL_GUID, AcceptedDomain, AdSiteLink, DomainType, LegacyExchangeServer, Mailbox, RemoteDomain, RoutingGroup, Site,
    TransportConfig, TransportServer,
)
from exchange_console.schema import ObjectSchema, Param, notes_param, pending_refs, read_only, rule
from exchange_console.services import current_caller

MAX_INT = 2147483647
SECOND = timedelta(seconds=1)


def common_params():
    """Read-only properties every object shows."""
    return [
        Param("Identity", "identity", p.String(), settable=False, getter=lambda obj: obj.identity),
        Param("Guid", "guid", p.String(), settable=False, getter=lambda obj: str(obj.guid)),
        Param("WhenChanged", "modified", p.DateTime(), settable=False),
        Param("WhenCreated", "created", p.DateTime(), settable=False),
    ]


def all_servers(obj=None):
    return TransportServer.objects.all()


def unique_name(model, label="Name", scope=None):
    """Rule: no other object of this model (within scope) has the same name, case-insensitively."""
    def check(obj):
        others = model.objects.filter(name__iexact=obj.name, **(scope(obj) if scope else {}))
        if obj.pk:
            others = others.exclude(pk=obj.pk)
        if others.exists():
            yield rule(label, f"{label}: an object with the name '{obj.name}' already exists.")
    return check


# --- Parameters stored for Exchange's scripts that this transport doesn't act on -------------------------------

class NullableBool(p.Bool):
    """$true, $false or $null (TNEFEnabled: $null leaves the choice to each sender and recipient)."""

    def parse(self, value):
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "$null", "null")):
            return None
        return super().parse(value)

    def format(self, value):
        return "" if value is None else super().format(value)

    def render(self, value):
        return "$null" if value is None else super().render(value)


_DSN_CODE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


class DsnCodes(p.MultiValued):
    """Enhanced status codes such as 5.7.1 (GenerateCopyOfDSNFor)."""

    def parse_item(self, item):
        text = str(item).strip()
        if not _DSN_CODE.match(text):
            raise ValueError(f"'{text}' is not a DSN code; use the form 5.7.1")
        return text


def check_ip_address(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an IP address") from None


def check_culture(text):
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", text):
        raise ValueError(f"'{text}' is not a culture name such as en-US")


def check_guid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a GUID") from None


def smtp_address():
    return p.String(320, check=p.check_smtp_address)


# --- TransportConfig -----------------------------------------------------------------------------------

def dsn_params(scope):
    """The DSN settings Exchange has twice: External (messages from or to outside) and Internal."""
    prefix = scope.lower()
    return [
        Param(f"{scope}DsnSendHtml", f"{prefix}_dsn_send_html", p.Bool()),
        Param(f"{scope}DsnMaxMessageAttachSize", f"{prefix}_dsn_max_message_attach_size",
              p.Size(0, MAX_INT, unlimited=False)),
        Param(f"{scope}DsnReportingAuthority", f"{prefix}_dsn_reporting_authority",
              p.String(255, check=p.check_fqdn)),
        Param(f"{scope}DelayDsnEnabled", f"{prefix}_delay_dsn_enabled", p.Bool()),
        Param(f"{scope}DsnDefaultLanguage", f"{prefix}_dsn_default_language", p.String(16, check=check_culture)),
        Param(f"{scope}DsnLanguageDetectionEnabled", f"{prefix}_dsn_language_detection_enabled", p.Bool()),
    ]


class SupervisionTags(p.MultiValued):
    def parse_item(self, item):
        return str(item).strip()


NO_JOURNALING = "Exchange's journaling isn't part of this transport"
NO_MAPI = "this transport relays MIME as it is; it has no mailbox store or MAPI content conversion"


def transport_config_notes(config):
    """The TransportConfig settings that are stored for Exchange's scripts but have no effect here, as set."""
    if config.journaling_report_ndr_to:
        yield "JournalingReportNdrTo", NO_JOURNALING
    if config.voicemail_journaling_enabled:
        yield "VoicemailJournalingEnabled", NO_JOURNALING
    if config.legacy_journaling_migration_enabled:
        yield "LegacyJournalingMigrationEnabled", NO_JOURNALING
    if config.shadow_redundancy_enabled:
        yield "ShadowRedundancyEnabled", "no shadow redundancy in this transport (nor its Shadow* timers)"
    yield "MaxDumpsterSizePerDatabase, MaxDumpsterTime", "no transport dumpster (no replicated mailbox databases)"
    if config.clear_categories or config.rfc2231_encoding_enabled or config.verify_secure_submit_enabled \
            or config.header_promotion_mode_setting != "NoCreate":
        yield "ClearCategories, Rfc2231EncodingEnabled, HeaderPromotionModeSetting, VerifySecureSubmitEnabled", NO_MAPI
    if config.convert_disclaimer_wrapper_to_eml:
        yield "ConvertDisclaimerWrapperToEml", "no transport rules"
    if config.supervision_tags:
        yield "SupervisionTags", "no transport supervision"
    if config.xexch50_enabled:
        yield "Xexch50Enabled", "no XEXCH50 (no Exchange 2003 servers)"
    if config.dsn_conversion_mode != "DoNotConvert":
        yield "DSNConversionMode", "DSNs from other systems are delivered as they are (DoNotConvert)"
    if (config.external_dsn_default_language or config.internal_dsn_default_language
            or config.external_dsn_language_detection_enabled or config.internal_dsn_language_detection_enabled):
        yield "DsnDefaultLanguage, DsnLanguageDetectionEnabled", "DSN texts are in English only"


TRANSPORT_CONFIG = ObjectSchema(
    noun="TransportConfig",
    model=TransportConfig,
    singleton=True,
    params=common_params() + [
        Param("MaxSendSize", "max_send_size", p.Size(0, MAX_INT)),
        Param("MaxReceiveSize", "max_receive_size", p.Size(0, MAX_INT)),
        Param("MaxRecipientEnvelopeLimit", "max_recipient_envelope_limit", p.Int(0, MAX_INT, unlimited=True)),
        Param("TLSSendDomainSecureList", "tls_send_domain_secure_list", p.DomainList()),
        Param("TLSReceiveDomainSecureList", "tls_receive_domain_secure_list", p.DomainList()),
        Param("ExternalPostmasterAddress", "external_postmaster_address", p.String(320, check=p.check_smtp_address)),
        # The organization's own SMTP servers (addresses, ranges a-b or CIDR) that its Edges relay for.
        Param("InternalSMTPServers", "internal_smtp_servers", p.IPRanges()),
        Param("GenerateCopyOfDSNFor", "generate_copy_of_dsn_for", DsnCodes()),
        *dsn_params("External"), *dsn_params("Internal"),
        Param("DSNConversionMode", "dsn_conversion_mode",
              p.Enum("DoNotConvert", "PreserveDSNBody", "UseExchangeDSNs")),
        Param("JournalingReportNdrTo", "journaling_report_ndr_to", smtp_address()),
        Param("VoicemailJournalingEnabled", "voicemail_journaling_enabled", p.Bool()),
        Param("LegacyJournalingMigrationEnabled", "legacy_journaling_migration_enabled", p.Bool()),
        Param("ShadowRedundancyEnabled", "shadow_redundancy_enabled", p.Bool()),
        Param("ShadowHeartbeatRetryCount", "shadow_heartbeat_retry_count", p.Int(1, 15)),
        Param("ShadowHeartbeatTimeoutInterval", "shadow_heartbeat_timeout_interval",
              p.TimeSpan(SECOND, timedelta(days=1))),
        Param("ShadowMessageAutoDiscardInterval", "shadow_message_auto_discard_interval",
              p.TimeSpan(5 * SECOND, timedelta(days=90))),
        Param("MaxDumpsterSizePerDatabase", "max_dumpster_size_per_database", p.Size(0, 2**53, unlimited=False)),
        Param("MaxDumpsterTime", "max_dumpster_time", p.TimeSpan(timedelta(0), timedelta(days=24855))),
        Param("ClearCategories", "clear_categories", p.Bool()),
        Param("Rfc2231EncodingEnabled", "rfc2231_encoding_enabled", p.Bool()),
        Param("HeaderPromotionModeSetting", "header_promotion_mode_setting",
              p.Enum("MustCreate", "MayCreate", "NoCreate")),
        Param("ConvertDisclaimerWrapperToEml", "convert_disclaimer_wrapper_to_eml", p.Bool()),
        Param("SupervisionTags", "supervision_tags", SupervisionTags()),
        Param("VerifySecureSubmitEnabled", "verify_secure_submit_enabled", p.Bool()),
        Param("Xexch50Enabled", "xexch50_enabled", p.Bool()),
        notes_param(transport_config_notes),
    ],
    notes=transport_config_notes,
    affected_servers=all_servers,
    default_columns=("MaxSendSize", "MaxReceiveSize", "MaxRecipientEnvelopeLimit"),
)


# --- Site and TransportServer ----------------------------------------------------------------------------

# Sites and site links come from Active Directory in Exchange; New-AdSite, New-AdSiteLink and Remove-AdSiteLink
# are this product's own, and so are a site's Name and SiteLinks and a link's Sites and ADCost, which only
# these set (Set-AdSite and Set-AdSiteLink change what Exchange 2010's do: HubSiteEnabled; ExchangeCost,
# MaxMessageSize and Name).

def _default_site_link(site, given):
    """Like Active Directory's new-site dialog: a new site joins DEFAULTIPSITELINK unless links are named."""
    if "SiteLinks" not in given:
        site._pending_refs = {**getattr(site, "_pending_refs", {}),
                              "site_links": list(AdSiteLink.objects.filter(name=AdSiteLink.DEFAULT_NAME))}


SITE = ObjectSchema(
    noun="AdSite",
    model=Site,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True, create_only=True),
        Param("HubSiteEnabled", "hub_site_enabled", p.Bool()),
        Param("SiteLinks", "site_links", p.ObjectRefs(AdSiteLink.objects.all, "Site link"), m2m=True,
              create_only=True),
    ],
    presets=_default_site_link,
    rules=[unique_name(Site)],
    affected_servers=all_servers,
    default_columns=("Name", "HubSiteEnabled"),
)


class ClearableInt(p.Int):
    """A whole number that $null clears (ExchangeCost: back to the AD cost)."""

    def parse(self, value):
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return super().parse(value)

    def format(self, value):
        return "" if value is None else str(value)

    def render(self, value):
        return "$null" if value is None else str(value)


def link_has_sites(link):
    if not pending_refs(link, "sites"):
        yield rule("Sites", "Sites: a site link joins at least one site.")


SITE_LINK = ObjectSchema(
    noun="AdSiteLink",
    model=AdSiteLink,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("Cost", "cost", p.Int(1, MAX_INT), settable=False, getter=lambda link: link.cost),
        Param("ADCost", "ad_cost", p.Int(1, 99999), create_only=True),
        Param("ExchangeCost", "exchange_cost", ClearableInt(1, MAX_INT)),
        Param("MaxMessageSize", "max_message_size", p.Size(64 * 1024)),
        Param("Sites", "sites", p.ObjectRefs(Site.objects.all, "Site"), m2m=True, mandatory=True, create_only=True),
    ],
    rules=[unique_name(AdSiteLink), link_has_sites],
    affected_servers=all_servers,
    default_columns=("Name", "Cost", "ADCost", "ExchangeCost", "MaxMessageSize", "Sites"),
)


def _check_relative_path(text):
    if ".." in text.replace("\\", "/").split("/"):
        raise ValueError(f"'{text}' may not contain '..'")


def log_path():
    return p.String(260, allow_empty=False, check=_check_relative_path)


def server_log_params(kind, prefix):
    """Path, age and size limits of one of a server's logs (ReceiveProtocolLog, SendProtocolLog...)."""
    return [
        Param(f"{kind}Path", f"{prefix}_path", log_path()),
        Param(f"{kind}MaxAge", f"{prefix}_max_age", p.TimeSpan(timedelta(0), timedelta(days=24855))),
        Param(f"{kind}MaxDirectorySize", f"{prefix}_max_directory_size", p.Size(1024 * 1024, 2**53)),
        Param(f"{kind}MaxFileSize", f"{prefix}_max_file_size", p.Size(1024 * 1024, 2**53)),
    ]


def check_server_name(text):
    if not text.replace("-", "").isalnum():
        raise ValueError(f"'{text}' may contain only letters, digits and hyphens")


def server_rules():
    def log_file_below_directory(server):
        for kind, prefix in LOG_KINDS:
            directory = getattr(server, f"{prefix}_max_directory_size")
            file = getattr(server, f"{prefix}_max_file_size")
            if directory is not None and file is not None and file > directory:
                yield rule(f"{kind}MaxFileSize",
                           f"{kind}MaxFileSize must not be larger than {kind}MaxDirectorySize.")
    return [unique_name(TransportServer), log_file_below_directory, folders_under_data_folder]


LOG_KINDS = [("ReceiveProtocolLog", "receive_protocol_log"), ("SendProtocolLog", "send_protocol_log"),
             ("MessageTrackingLog", "message_tracking_log")]
SERVER_FOLDERS = [(f"{kind}Path", f"{prefix}_path") for kind, prefix in LOG_KINDS] + [
    ("RootDropDirectoryPath", "root_drop_directory_path")]


def folders_under_data_folder(server):
    """The worker writes its logs and drop files where these point, as its own user: Server Management may move
    them within the server's data folder; only Organization Management (or setup) may put them anywhere else."""
    caller = current_caller()
    if caller is None or is_organization_manager(caller.user):
        return
    stored = TransportServer.objects.filter(pk=server.pk).values(*(field for _, field in SERVER_FOLDERS)).first()
    for name, field in SERVER_FOLDERS:
        value = getattr(server, field)
        if stored and stored[field] == value:
            continue  # set earlier by Organization Management: changing another parameter keeps it
        folder = Path(os.path.normpath(server.resolve_path(value)))
        if not folder.is_relative_to(server.data_directory):
            yield rule(name, f"{name}: '{value}' is outside the server's data folder {server.data_directory}; "
                             f"only Organization Management can put a server's folders elsewhere.")


def optional_path():
    """A folder that $null disables (PickupDirectoryPath, ConnectivityLogPath...)."""
    return p.String(260, check=_check_relative_path)


def stored_log_params(kind, prefix, file_size=True):
    """Path, age and size limits of a log this transport doesn't write (connectivity, routing table...)."""
    return [
        Param(f"{kind}Path", f"{prefix}_path", optional_path()),
        Param(f"{kind}MaxAge", f"{prefix}_max_age", p.TimeSpan(timedelta(0), timedelta(days=24855))),
        Param(f"{kind}MaxDirectorySize", f"{prefix}_max_directory_size", p.Size(1024 * 1024, 2**53)),
        *([Param(f"{kind}MaxFileSize", f"{prefix}_max_file_size", p.Size(1024 * 1024, 2**53))] if file_size else []),
    ]


DNS_PROTOCOL = p.Enum("Any", "UseTcpOnly", "UseUdpOnly")
SERVER_STORED_PARAMS = [
    Param("ExternalIPAddress", "external_ip_address", p.String(45, check=check_ip_address)),
    Param("ExternalDNSAdapterEnabled", "external_dns_adapter_enabled", p.Bool()),
    Param("InternalDNSAdapterEnabled", "internal_dns_adapter_enabled", p.Bool()),
    Param("ExternalDNSAdapterGuid", "external_dns_adapter_guid", p.String(36, allow_empty=False, check=check_guid)),
    Param("InternalDNSAdapterGuid", "internal_dns_adapter_guid", p.String(36, allow_empty=False, check=check_guid)),
    Param("ExternalDNSProtocolOption", "external_dns_protocol_option", DNS_PROTOCOL),
    Param("InternalDNSProtocolOption", "internal_dns_protocol_option", DNS_PROTOCOL),
    Param("IntraOrgConnectorProtocolLoggingLevel", "intra_org_connector_protocol_logging_level",
          p.Enum("None", "Verbose")),
    Param("IntraOrgConnectorSmtpMaxMessagesPerConnection", "intra_org_connector_smtp_max_messages_per_connection",
          p.Int(1, MAX_INT)),
    Param("MaxConnectionRatePerMinute", "max_connection_rate_per_minute", p.Int(1, MAX_INT)),
    Param("MaxConcurrentMailboxDeliveries", "max_concurrent_mailbox_deliveries", p.Int(1, 256)),
    Param("MaxConcurrentMailboxSubmissions", "max_concurrent_mailbox_submissions", p.Int(1, 256)),
    Param("PoisonMessageDetectionEnabled", "poison_message_detection_enabled", p.Bool()),
    Param("PoisonThreshold", "poison_threshold", p.Int(1, 10)),
    Param("QueueMaxIdleTime", "queue_max_idle_time", p.TimeSpan(5 * SECOND, timedelta(hours=1))),
    Param("PickupDirectoryPath", "pickup_directory_path", optional_path()),
    Param("PickupDirectoryMaxHeaderSize", "pickup_directory_max_header_size",
          p.Size(32768, MAX_INT, unlimited=False)),
    Param("PickupDirectoryMaxMessagesPerMinute", "pickup_directory_max_messages_per_minute", p.Int(1, 20000)),
    Param("PickupDirectoryMaxRecipientsPerMessage", "pickup_directory_max_recipients_per_message",
          p.Int(1, 10000)),
    Param("ReplayDirectoryPath", "replay_directory_path", optional_path()),
    Param("ConnectivityLogEnabled", "connectivity_log_enabled", p.Bool()),
    *stored_log_params("ConnectivityLog", "connectivity_log"),
    *stored_log_params("RoutingTableLog", "routing_table_log", file_size=False),
    Param("PipelineTracingEnabled", "pipeline_tracing_enabled", p.Bool()),
    Param("PipelineTracingPath", "pipeline_tracing_path", optional_path()),
    Param("PipelineTracingSenderAddress", "pipeline_tracing_sender_address", smtp_address()),
    Param("ContentConversionTracingEnabled", "content_conversion_tracing_enabled", p.Bool()),
    *stored_log_params("ServerStatisticsLog", "server_statistics_log"),
    *stored_log_params("ActiveUserStatisticsLog", "active_user_statistics_log"),
    Param("IrmLogEnabled", "irm_log_enabled", p.Bool()),
    *stored_log_params("IrmLog", "irm_log"),
    Param("AntispamAgentsEnabled", "antispam_agents_enabled", p.Bool()),
    Param("RecipientValidationCacheEnabled", "recipient_validation_cache_enabled", p.Bool()),
    Param("UseDowngradedExchangeServerAuth", "use_downgraded_exchange_server_auth", p.Bool()),
]
def transport_server_notes(server):
    """The TransportServer settings that are stored for Exchange's scripts but have no effect here, as set."""
    if server.external_ip_address:
        yield "ExternalIPAddress", "the Received header names the address the connection came to"
    if not (server.external_dns_adapter_enabled and server.internal_dns_adapter_enabled) or NULL_GUID not in (
            server.external_dns_adapter_guid, server.internal_dns_adapter_guid):
        yield ("DNSAdapterEnabled, DNSAdapterGuid", "lookups use ExternalDNSServers/InternalDNSServers when set, "
                                                    "else the system's resolver")
    if "Any" not in (server.external_dns_protocol_option, server.internal_dns_protocol_option):
        yield "DNSProtocolOption", "lookups go over UDP, then TCP when an answer is truncated (Any)"
    yield ("IntraOrgConnectorProtocolLoggingLevel, IntraOrgConnectorSmtpMaxMessagesPerConnection",
           "the organization's servers hand mail to each other through their queues, not over SMTP")
    yield "MaxConnectionRatePerMinute", "connections are limited per receive connector (MaxInboundConnection...)"
    yield "MaxConcurrentMailboxDeliveries, MaxConcurrentMailboxSubmissions", "no mailbox store here"
    if server.poison_message_detection_enabled:
        yield "PoisonMessageDetectionEnabled, PoisonThreshold", "no poison message detection"
    yield "QueueMaxIdleTime", "an empty queue stays until the transport worker restarts"
    if server.pickup_directory_path or server.replay_directory_path:
        yield "PickupDirectory*, ReplayDirectoryPath", "no Pickup or Replay directory is read"
    if server.connectivity_log_enabled or server.pipeline_tracing_enabled or server.content_conversion_tracing_enabled:
        yield ("ConnectivityLog*, PipelineTracing*, ContentConversionTracingEnabled",
               "these logs aren't written")
    yield "RoutingTableLog*, ServerStatisticsLog*, ActiveUserStatisticsLog*", "these logs aren't written"
    if server.irm_log_enabled:
        yield "IrmLog*", "no Information Rights Management"
    if server.antispam_agents_enabled or server.recipient_validation_cache_enabled:
        yield ("AntispamAgentsEnabled, RecipientValidationCacheEnabled",
               "no anti-spam agents (an Edge filters recipients without them)")
    if server.use_downgraded_exchange_server_auth:
        yield "UseDowngradedExchangeServerAuth", "no Kerberos (GSSAPI) Exchange Server authentication"


def _server_itself(server):
    return [server]


TRANSPORT_SERVER = ObjectSchema(
    noun="TransportServer",
    model=TransportServer,
    params=common_params() + [
        Param("Name", "name", p.String(15, allow_empty=False, check=check_server_name),
              mandatory=True, create_only=True),
        Param("Fqdn", "fqdn", p.String(255, allow_empty=False, check=p.check_fqdn), mandatory=True),
        Param("ServerRole", "role", p.Enum(TransportServer.HUB, TransportServer.EDGE), create_only=True),
        Param("Site", "site", p.ObjectRef(Site.objects.all, "Site"), mandatory=True),
        Param("TransientFailureRetryCount", "transient_failure_retry_count", p.Int(0, 15)),
        Param("TransientFailureRetryInterval", "transient_failure_retry_interval",
              p.TimeSpan(SECOND, timedelta(hours=12))),
        Param("OutboundConnectionFailureRetryInterval", "outbound_connection_failure_retry_interval",
              p.TimeSpan(SECOND, timedelta(days=20))),
        Param("MessageRetryInterval", "message_retry_interval", p.TimeSpan(SECOND, timedelta(days=1))),
        Param("DelayNotificationTimeout", "delay_notification_timeout", p.TimeSpan(SECOND, timedelta(days=30))),
        Param("MessageExpirationTimeout", "message_expiration_timeout", p.TimeSpan(SECOND, timedelta(days=90))),
        Param("MaxOutboundConnections", "max_outbound_connections", p.Int(1, MAX_INT, unlimited=True)),
        Param("MaxPerDomainOutboundConnections", "max_per_domain_outbound_connections",
              p.Int(1, MAX_INT, unlimited=True)),
        Param("InternalDNSServers", "internal_dns_servers", p.IPEndpoints()),
        Param("ExternalDNSServers", "external_dns_servers", p.IPEndpoints()),
        *server_log_params("ReceiveProtocolLog", "receive_protocol_log"),
        *server_log_params("SendProtocolLog", "send_protocol_log"),
        Param("MessageTrackingLogEnabled", "message_tracking_log_enabled", p.Bool()),
        *server_log_params("MessageTrackingLog", "message_tracking_log"),
        Param("RootDropDirectoryPath", "root_drop_directory_path", p.String(260, check=_check_relative_path)),
        Param("MessageTrackingLogSubjectLoggingEnabled", "message_tracking_log_subject_logging_enabled", p.Bool()),
        *SERVER_STORED_PARAMS,
        notes_param(transport_server_notes),
        Param("ReceiveListenerStatus", "receive_listener_status", p.String(), settable=False,
              getter=lambda server: server.listener_status),
    ],
    rules=server_rules(),
    notes=transport_server_notes,
    affected_servers=_server_itself,
    default_columns=("Name", "ServerRole", "Site"),
)


# --- Accepted and remote domains ----------------------------------------------------------------------------

def _accepted_domain_presets(domain, given):
    """The first accepted domain becomes the default, as in Exchange; AddressBookEnabled (recipient filtering)
    is on for an Authoritative domain and off for the relay types unless given."""
    if not AcceptedDomain.objects.exists():
        domain.default = True
    if "AddressBookEnabled" not in given:
        domain.address_book_enabled = domain.domain_type == DomainType.AUTHORITATIVE


def keeps_a_default(domain):
    if not domain.default and domain.pk and AcceptedDomain.objects.filter(pk=domain.pk, default=True).exists():
        yield rule("MakeDefault", "MakeDefault: there must be a default accepted domain; make another one the "
                                  "default instead.")


def take_default_flag(domain):
    """Making a domain the default takes the flag from the previous one, in the same transaction."""
    if domain.default:
        AcceptedDomain.objects.exclude(pk=domain.pk).filter(default=True).update(default=False)


def unique_domain_name(model):
    def check(obj):
        others = model.objects.filter(domain_name__iexact=obj.domain_name)
        if obj.pk:
            others = others.exclude(pk=obj.pk)
        if others.exists():
            yield rule("DomainName", f"DomainName: the domain '{obj.domain_name}' is already in use.")
    return check


def keep_default_domain(domain):
    if domain.default and AcceptedDomain.objects.count() > 1:
        yield rule("Identity", f"The default accepted domain '{domain.name}' can't be removed; "
                               f"make another domain the default first.")


def domain_used_by_mailboxes(domain):
    suffix = "@" + domain.domain_name
    if not domain.domain_name.startswith("*") and Mailbox.objects.filter(primary_smtp_address__iendswith=suffix).exists():
        yield rule("Identity", f"The accepted domain '{domain.name}' can't be removed: mailboxes use it.")


def accepted_domain_notes(domain):
    if domain.pending_removal:
        yield "PendingRemoval", "reserved for Microsoft's internal use"


ACCEPTED_DOMAIN = ObjectSchema(
    noun="AcceptedDomain",
    model=AcceptedDomain,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("DomainName", "domain_name", p.String(255, allow_empty=False, check=p.check_domain_pattern),
              mandatory=True),
        Param("DomainType", "domain_type", p.Enum("Authoritative", "InternalRelay", "ExternalRelay")),
        Param("Default", "default", p.Bool(), settable=False),
        Param("MakeDefault", "default", p.Bool(), shown=False),
        Param("AddressBookEnabled", "address_book_enabled", p.Bool()),
        Param("PendingRemoval", "pending_removal", p.Bool()),
        notes_param(accepted_domain_notes),
    ],
    notes=accepted_domain_notes,
    presets=_accepted_domain_presets,
    rules=[unique_name(AcceptedDomain), unique_domain_name(AcceptedDomain), keeps_a_default],
    before_save=take_default_flag,
    remove_rules=[keep_default_domain, domain_used_by_mailboxes],
    affected_servers=all_servers,
    default_columns=("Name", "DomainName", "DomainType", "Default"),
)


OOF_TYPES = ("External", "ExternalLegacy", "InternalLegacy", "None")


def check_charset(text):
    try:
        codecs.lookup(text)
    except LookupError:
        raise ValueError(f"'{text}' is not a character set this server knows") from None


def _built_in_default_remote_domain(domain, given):
    """Exchange's built-in Default (*): no automatic replies or forwards to the Internet, and iso-8859-1 for
    messages without a character set; a new remote domain allows both and leaves the character sets empty."""
    if domain.domain_name != "*":
        return
    for name, field, value in (("AutoReplyEnabled", "auto_reply_enabled", False),
                               ("AutoForwardEnabled", "auto_forward_enabled", False),
                               ("CharacterSet", "character_set", "iso-8859-1"),
                               ("NonMimeCharacterSet", "non_mime_character_set", "iso-8859-1")):
        if name not in given:
            setattr(domain, field, value)


def remote_domain_notes(domain):
    """The RemoteDomain settings that are stored for Exchange's scripts but have no effect here, as set."""
    if domain.tnef_enabled:
        yield "TNEFEnabled", "messages always leave as MIME here; no TNEF (winmail.dat) is ever produced"
    if (domain.byte_encoder_type_for_7bit_charsets != "Undefined" or domain.required_charset_coverage is not None
            or domain.preferred_internet_code_page_for_shift_jis != "Undefined"):
        yield ("ByteEncoderTypeFor7BitCharsets, RequiredCharsetCoverage, PreferredInternetCodePageForShiftJis",
               "this transport never converts MAPI content to MIME, so it never chooses an encoding")
    if domain.meeting_forward_notification_enabled:
        yield "MeetingForwardNotificationEnabled", "no calendars here"
    if domain.trusted_mail_inbound_enabled or domain.trusted_mail_outbound_enabled:
        yield "TrustedMailInboundEnabled, TrustedMailOutboundEnabled", "no content filter here to bypass"
    if domain.target_delivery_domain:
        yield "TargetDeliveryDomain", "no mail users (cross-forest provisioning) here"
    if domain.is_coexistence_domain:
        yield "IsCoexistenceDomain", "no Office 365 tenant here"
    if domain.is_internal:
        yield "IsInternal", "its recipients are still treated as outside the organization (these settings apply)"


REMOTE_DOMAIN = ObjectSchema(
    noun="RemoteDomain",
    model=RemoteDomain,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("DomainName", "domain_name", p.String(255, allow_empty=False, check=lambda t: t == "*" or
                                                    p.check_domain_pattern(t)), mandatory=True, create_only=True),
        Param("AutoReplyEnabled", "auto_reply_enabled", p.Bool()),
        Param("AutoForwardEnabled", "auto_forward_enabled", p.Bool()),
        Param("DeliveryReportEnabled", "delivery_report_enabled", p.Bool()),
        Param("NDREnabled", "ndr_enabled", p.Bool()),
        Param("ContentType", "content_type", p.Enum("MimeHtmlText", "MimeText", "MimeHtml")),
        Param("CharacterSet", "character_set", p.String(32, check=check_charset)),
        Param("LineWrapSize", "line_wrap_size", p.Int(0, 132, unlimited=True)),
        Param("IsInternal", "is_internal", p.Bool()),
        Param("AllowedOOFType", "allowed_oof_type", p.Enum(*OOF_TYPES)),
        Param("NDRDiagnosticInfoEnabled", "ndr_diagnostic_info_enabled", p.Bool()),
        Param("DisplaySenderName", "display_sender_name", p.Bool()),
        Param("UseSimpleDisplayName", "use_simple_display_name", p.Bool()),
        Param("NonMimeCharacterSet", "non_mime_character_set", p.String(32, check=check_charset)),
        Param("TNEFEnabled", "tnef_enabled", NullableBool()),
        Param("ByteEncoderTypeFor7BitCharsets", "byte_encoder_type_for_7bit_charsets", p.Enum(
            "Use7Bit", "UseQP", "UseBase64", "UseQPHtmlDetectTextPlain", "UseBase64HtmlDetectTextPlain",
            "UseQPHtml7BitTextPlain", "UseBase64Html7BitTextPlain", "Undefined")),
        Param("RequiredCharsetCoverage", "required_charset_coverage", ClearableInt(0, 100)),
        Param("PreferredInternetCodePageForShiftJis", "preferred_internet_code_page_for_shift_jis",
              p.Enum("50220", "50221", "50222", "Undefined")),
        Param("MeetingForwardNotificationEnabled", "meeting_forward_notification_enabled", p.Bool()),
        Param("TrustedMailInboundEnabled", "trusted_mail_inbound_enabled", p.Bool()),
        Param("TrustedMailOutboundEnabled", "trusted_mail_outbound_enabled", p.Bool()),
        Param("TargetDeliveryDomain", "target_delivery_domain", p.Bool()),
        Param("IsCoexistenceDomain", "is_coexistence_domain", p.Bool()),
        notes_param(remote_domain_notes),
    ],
    notes=remote_domain_notes,
    presets=_built_in_default_remote_domain,
    rules=[unique_name(RemoteDomain), unique_domain_name(RemoteDomain)],
    remove_rules=[lambda domain: [rule("Identity", "The Default remote domain (*) can't be removed.")]
                  if domain.domain_name == "*" else []],
    affected_servers=all_servers,
    default_columns=("Name", "DomainName"),
)


# --- Mailboxes ---------------------------------------------------------------------------------------------

def address_in_accepted_domain(mailbox):
    domain = mailbox.primary_smtp_address.rpartition("@")[2]
    if not any(domains.match_domain_pattern(accepted.domain_name, domain) is not None
               for accepted in AcceptedDomain.objects.all()):
        yield rule("PrimarySmtpAddress",
                   f"PrimarySmtpAddress: the domain '{domain}' is not an accepted domain of this organization.")


def unique_address(mailbox):
    others = Mailbox.objects.filter(primary_smtp_address__iexact=mailbox.primary_smtp_address)
    if mailbox.pk:
        others = others.exclude(pk=mailbox.pk)
    if others.exists():
        yield rule("PrimarySmtpAddress",
                   f"PrimarySmtpAddress: the address '{mailbox.primary_smtp_address}' is already in use.")


class Password(p.ParamType):
    """Stored only as a Django password hash; never shown or rendered."""

    def parse(self, value):
        text = getattr(value, "password", value)
        if not text:
            raise ValueError("a password is required")
        return make_password(str(text))

    def format(self, value):
        return "********"

    def render(self, value):
        return "(ConvertTo-SecureString '********' -AsPlainText -Force)"


class SmtpAddress(p.ParamType):
    def parse(self, value):
        return domains.parse_smtp_address(value).lower()


class MailboxDatabase(p.ParamType):
    """-Database: '' for this organization's Exchange 2010 mailbox database, or a legacy server's as Exchange names
    it: 'EX2003\\First Storage Group\\Mailbox Store (EX2003)' (server, storage group, store)."""

    def parse(self, value):
        text = "" if value is None else str(value).strip()
        if not text:
            return ""
        parts = [part.strip() for part in text.split("\\")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"'{text}' must be a legacy server's database as SERVER\\Storage group\\Store, e.g. "
                             f"'EX2003\\First Storage Group\\Mailbox Store (EX2003)', or $null for this organization's")
        server = LegacyExchangeServer.objects.filter(name__iexact=parts[0]).first()
        if server is None:
            raise ValueError(f"'{parts[0]}' isn't a legacy Exchange server of this organization "
                             f"(New-LegacyExchangeServer)")
        return "\\".join([server.name, *parts[1:]])


MAILBOX = ObjectSchema(
    noun="Mailbox",
    model=Mailbox,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("PrimarySmtpAddress", "primary_smtp_address", SmtpAddress(), mandatory=True),
        Param("Password", "password", Password(), mandatory=True, shown=False),
        Param("Database", "database", MailboxDatabase()),
        read_only("ServerName", "server_name", getter=lambda mailbox: mailbox.server_name),
    ],
    rules=[unique_name(Mailbox), unique_address, address_in_accepted_domain],
    affected_servers=all_servers,
    default_columns=("Name", "PrimarySmtpAddress"),
)


def _mailbox_view(noun, params):
    """Get-User and Get-Recipient: the mailboxes as the directory's users and recipients (read only; a mailbox
    changes through Set-Mailbox). Every mailbox here is a user mailbox, as Exchange names the type."""
    return ObjectSchema(noun=noun, model=Mailbox, params=common_params() + [
        read_only("Name", "name"), read_only("DisplayName", "name"),
        read_only("RecipientType", "recipient_type", getter=lambda mailbox: "UserMailbox"),
        read_only("RecipientTypeDetails", "recipient_type_details", getter=lambda mailbox: "UserMailbox"),
        *params], default_columns=("Name", "RecipientType"))


USER = _mailbox_view("User", [
    read_only("WindowsEmailAddress", "primary_smtp_address"),
    read_only("UserPrincipalName", "primary_smtp_address"),
])
RECIPIENT = _mailbox_view("Recipient", [
    read_only("Alias", "alias", getter=lambda mailbox: mailbox.primary_smtp_address.partition("@")[0]),
    read_only("PrimarySmtpAddress", "primary_smtp_address"),
    read_only("EmailAddresses", "email_addresses", p.MultiValued(),
              getter=lambda mailbox: [f"SMTP:{mailbox.primary_smtp_address}"]),
])


# --- Routing groups and legacy (Exchange 2003) servers -----------------------------------------------------------
# Exchange 2003 creates these (its System Manager, Active Directory); New-RoutingGroup -Legacy and
# New-/Set-/Remove-LegacyExchangeServer are this product's own, to describe them here.

def only_legacy_groups(group):
    if group.name.lower() == RoutingGroup.EXCHANGE_2010.lower() or not group.legacy:
        yield rule("Name", f"Name: '{RoutingGroup.EXCHANGE_2010}' is Exchange 2010's own routing group; only legacy "
                           f"(Exchange 2003) routing groups can be created or removed.")


def routing_group_in_use(group):
    if not group.legacy:
        yield from only_legacy_groups(group)
    if group.legacy_servers.exists():
        yield rule("Identity", f"Identity: the routing group '{group.name}' still has servers "
                               f"({', '.join(group.legacy_servers.values_list('name', flat=True))}).")


ROUTING_GROUP = ObjectSchema(
    noun="RoutingGroup",
    model=RoutingGroup,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False, check=lambda text: _no_backslash(text)), mandatory=True),
        Param("AdministrativeGroup", "administrative_group", p.String(64, allow_empty=False,
                                                                       check=lambda text: _no_backslash(text)),
              create_only=True),
        read_only("IsLegacy", "legacy", p.Bool(), getter=lambda group: group.legacy),
        read_only("RoutingGroupMembersDN", "members", p.ObjectRefs(TransportServer.objects.all, "Server"),
                  getter=lambda group: list(group.legacy_servers.all() if group.legacy
                                            else TransportServer.objects.hubs())),
    ],
    rules=[unique_name(RoutingGroup), only_legacy_groups],
    remove_rules=[routing_group_in_use],
    default_columns=("Name", "IsLegacy"),
    identity=lambda group: group.name,
)


def _no_backslash(text):
    if "\\" in text:
        raise ValueError(f"'{text}' may not contain '\\'")


class PemCertificate(p.ParamType):
    """A certificate in PEM (the text of a .cer/.pem file); kept as its PEM form."""

    def parse(self, value):
        text = "" if value is None else str(getattr(value, "value", value)).strip()
        if not text:
            return ""
        try:
            certificate = x509.load_pem_x509_certificate(text.encode())
        except ValueError:
            raise ValueError("not a certificate in PEM form (-----BEGIN CERTIFICATE-----)") from None
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    def format(self, value):
        return certificate_thumbprint(value)

    def render(self, value):
        return p.shell_quote(value) if value else "$null"


def certificate_thumbprint(pem):
    """SHA-1 thumbprint, as Exchange shows certificates ('' without one)."""
    if not pem:
        return ""
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def legacy_server_rules(server):
    if server.routing_group_id and not server.routing_group.legacy:
        yield rule("RoutingGroup", f"RoutingGroup: a legacy server belongs to a legacy (Exchange 2003) routing group, "
                                   f"not '{server.routing_group.name}'.")
    if TransportServer.objects.filter(name__iexact=server.name).exists():
        yield rule("Name", f"Name: '{server.name}' is an Exchange 2010 transport server.")


def legacy_server_in_use(server):
    from exchange_console.connectors.models import RoutingGroupConnector

    homed = Mailbox.objects.filter(database__istartswith=server.name + "\\").values_list("name", flat=True)
    if homed:
        yield rule("Identity", f"Identity: mailboxes are in databases of '{server.name}' ({', '.join(homed)}); move "
                               f"them first (Set-Mailbox -Database).")
    named = [connector.identity for connector in RoutingGroupConnector.objects.select_related("routing_group")
             if server.name in connector.source_transport_servers + connector.target_transport_servers]
    if named:
        yield rule("Identity", f"Identity: routing group connectors use '{server.name}' ({', '.join(named)}).")


LEGACY_EXCHANGE_SERVER = ObjectSchema(
    noun="LegacyExchangeServer",
    model=LegacyExchangeServer,
    params=common_params() + [
        Param("Name", "name", p.String(15, allow_empty=False, check=check_server_name), mandatory=True,
              create_only=True),
        Param("Fqdn", "fqdn", p.String(255, check=p.check_fqdn), mandatory=True),
        Param("RoutingGroup", "routing_group", p.ObjectRef(RoutingGroup.objects.all, "Routing group"),
              mandatory=True),
        Param("Port", "port", p.Int(1, 65535)),
        Param("Certificate", "certificate_pem", PemCertificate(), shown=False),
        read_only("CertificateThumbprint", "certificate_thumbprint",
                  getter=lambda server: certificate_thumbprint(server.certificate_pem)),
        read_only("AdminDisplayVersion", "version", getter=lambda server: "Version 6.5 (Build 7638.2: Service Pack 2)"),
        read_only("IsExchange2007OrLater", "later", p.Bool(), getter=lambda server: False),
    ],
    rules=[unique_name(LegacyExchangeServer), legacy_server_rules],
    remove_rules=[legacy_server_in_use],
    affected_servers=all_servers,
    default_columns=("Name", "Fqdn", "RoutingGroup"),
)
