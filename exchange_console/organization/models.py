"""The organization's configuration: sites, transport servers, domains, transport settings, mailboxes.

Values are stored in their parsed form (bytes, timedeltas, canonical strings); parsing, display and the
cross-field rules live in the schemas (schemas.py), the one write path in exchange_console.services.
Sizes of None mean "unlimited".
"""
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import models
from django.utils import timezone

from exchange_console.lib.servers import celery_queue

MB = 1024 * 1024
HEARTBEATS_MISSED = 3   # a worker silent for this many of its heartbeat intervals is taken as gone
HEALTHY = "Healthy"
NULL_GUID = "00000000-0000-0000-0000-000000000000"


class ConfigObject(models.Model):
    """Every configuration object: a GUID identity, Exchange's WhenCreated/WhenChanged, and a version that
    increments on every save so that concurrent editors can detect each other."""
    guid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True

    @property
    def identity(self):
        return self.name

    def __str__(self):
        return self.identity


class Organization(ConfigObject):
    name = models.CharField(max_length=64, unique=True)


def default_dsn_copy_codes():
    """GenerateCopyOfDSNFor as Exchange 2010 installs it."""
    return ["5.4.8", "5.4.6", "5.4.4", "5.2.4", "5.2.0", "5.1.4"]


def default_supervision_tags():
    return ["Reject", "Allow"]


class TransportConfig(ConfigObject):
    """Get-/Set-TransportConfig: organization-wide transport settings (one row)."""
    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="transport_config")
    max_send_size = models.BigIntegerField(null=True, default=10 * MB)
    max_receive_size = models.BigIntegerField(null=True, default=10 * MB)
    max_recipient_envelope_limit = models.IntegerField(null=True, default=5000)
    tls_send_domain_secure_list = models.JSONField(default=list, blank=True)
    tls_receive_domain_secure_list = models.JSONField(default=list, blank=True)
    external_postmaster_address = models.CharField(max_length=320, blank=True, default="")
    # IP addresses and ranges of the organization's own SMTP servers in front of or beside the Edge (a DLP or
    # anti-spam appliance): what an Edge relays for like for its Hubs.
    internal_smtp_servers = models.JSONField(default=list, blank=True)

    # Delivery status notifications (transport/dsn.py, transport/reports.py). External: about messages from or
    # to outside the organization; Internal: between its own senders and recipients.
    generate_copy_of_dsn_for = models.JSONField(default=default_dsn_copy_codes, blank=True)
    external_dsn_send_html = models.BooleanField(default=True)
    internal_dsn_send_html = models.BooleanField(default=True)
    external_dsn_max_message_attach_size = models.BigIntegerField(default=10 * MB)
    internal_dsn_max_message_attach_size = models.BigIntegerField(default=10 * MB)
    external_dsn_reporting_authority = models.CharField(max_length=255, blank=True, default="")
    internal_dsn_reporting_authority = models.CharField(max_length=255, blank=True, default="")
    external_delay_dsn_enabled = models.BooleanField(default=True)
    internal_delay_dsn_enabled = models.BooleanField(default=True)
    dsn_conversion_mode = models.CharField(max_length=16, default="UseExchangeDSNs")
    external_dsn_default_language = models.CharField(max_length=16, blank=True, default="")
    internal_dsn_default_language = models.CharField(max_length=16, blank=True, default="")
    external_dsn_language_detection_enabled = models.BooleanField(default=True)
    internal_dsn_language_detection_enabled = models.BooleanField(default=True)
    # Stored for Exchange's scripts; the features behind them are not part of this transport (Get- says so).
    journaling_report_ndr_to = models.CharField(max_length=320, blank=True, default="")
    voicemail_journaling_enabled = models.BooleanField(default=True)
    legacy_journaling_migration_enabled = models.BooleanField(default=False)
    shadow_redundancy_enabled = models.BooleanField(default=True)
    shadow_heartbeat_retry_count = models.IntegerField(default=12)
    shadow_heartbeat_timeout_interval = models.DurationField(default=timedelta(minutes=15))
    shadow_message_auto_discard_interval = models.DurationField(default=timedelta(days=2))
    max_dumpster_size_per_database = models.BigIntegerField(default=18 * MB)
    max_dumpster_time = models.DurationField(default=timedelta(days=7))
    clear_categories = models.BooleanField(default=True)
    rfc2231_encoding_enabled = models.BooleanField(default=False)
    header_promotion_mode_setting = models.CharField(max_length=16, default="NoCreate")
    convert_disclaimer_wrapper_to_eml = models.BooleanField(default=False)
    supervision_tags = models.JSONField(default=default_supervision_tags, blank=True)
    verify_secure_submit_enabled = models.BooleanField(default=False)
    xexch50_enabled = models.BooleanField(default=True)

    name = "Transport Settings"

    @property
    def identity(self):
        return "Transport Settings"

    def postmaster_address(self):
        """ExternalPostmasterAddress, or Exchange's default postmaster@<default accepted domain>."""
        if self.external_postmaster_address:
            return self.external_postmaster_address
        default = AcceptedDomain.objects.filter(default=True).first()
        return f"postmaster@{default.domain_name.removeprefix('*.')}" if default else ""


class Installation(models.Model):
    """What this database is: an organization's (its Hub Transport servers share it) or one Edge Transport
    server's own, which stands alone in the perimeter and gets the organization's objects only by EdgeSync.
    One row, written by setup; without one the database is an organization's."""
    ORGANIZATION, EDGE = "Organization", "EdgeTransport"
    kind = models.CharField(max_length=16, choices=[(ORGANIZATION, ORGANIZATION), (EDGE, EDGE)],
                            default=ORGANIZATION)

    @classmethod
    def is_edge(cls):
        return cls.objects.filter(kind=cls.EDGE).exists()


class Site(ConfigObject):
    """An Active Directory site. Mail between sites follows the least-cost path over the site links;
    HubSiteEnabled (Set-AdSite) makes a site on such a path relay the mail that crosses it."""
    name = models.CharField(max_length=64, unique=True)
    hub_site_enabled = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]


class AdSiteLink(ConfigObject):
    """An Active Directory IP site link between sites: its AD cost, and what Exchange adds on top
    (Set-AdSiteLink): ExchangeCost, used for routing instead of the AD cost when set, and MaxMessageSize."""
    DEFAULT_NAME = "DEFAULTIPSITELINK"   # what Active Directory creates with the forest's first site

    name = models.CharField(max_length=64, unique=True)
    sites = models.ManyToManyField(Site, related_name="site_links")
    ad_cost = models.PositiveIntegerField(default=100)
    exchange_cost = models.PositiveIntegerField(null=True, blank=True)
    max_message_size = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    @property
    def cost(self):
        """The cost routing uses: ExchangeCost when set, else the AD cost."""
        return self.ad_cost if self.exchange_cost is None else self.exchange_cost


class TransportServerQuerySet(models.QuerySet):
    def hubs(self):
        return self.filter(role=TransportServer.HUB)

    def local(self):
        """The servers whose workers use this database and its broker: an organization's Hubs, or an Edge's
        database's own Edge (the other side's servers are known here only to route mail to them)."""
        edge = models.Exists(Installation.objects.filter(kind=Installation.EDGE))   # in the same query
        return self.filter(role=models.Case(models.When(edge, then=models.Value(TransportServer.EDGE)),
                                            default=models.Value(TransportServer.HUB)))


class TransportServer(ConfigObject):
    HUB, EDGE = "HubTransport", "Edge"

    name = models.CharField(max_length=15, unique=True)
    fqdn = models.CharField(max_length=255)
    role = models.CharField(max_length=16, choices=[(HUB, HUB), (EDGE, EDGE)], default=HUB)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="servers")

    transient_failure_retry_count = models.PositiveSmallIntegerField(default=6)
    transient_failure_retry_interval = models.DurationField(default=timedelta(minutes=5))
    outbound_connection_failure_retry_interval = models.DurationField(default=timedelta(minutes=10))
    message_retry_interval = models.DurationField(default=timedelta(minutes=1))
    delay_notification_timeout = models.DurationField(default=timedelta(hours=4))
    message_expiration_timeout = models.DurationField(default=timedelta(days=2))
    max_outbound_connections = models.IntegerField(null=True, default=1000)
    max_per_domain_outbound_connections = models.IntegerField(null=True, default=20)
    internal_dns_servers = models.JSONField(default=list, blank=True)
    external_dns_servers = models.JSONField(default=list, blank=True)

    # Relative paths are under EXCHANGE_DATA_DIR/<server name>.
    receive_protocol_log_path = models.CharField(
        max_length=260, default="TransportRoles/Logs/ProtocolLog/SmtpReceive")
    send_protocol_log_path = models.CharField(max_length=260, default="TransportRoles/Logs/ProtocolLog/SmtpSend")
    receive_protocol_log_max_age = models.DurationField(default=timedelta(days=30))
    send_protocol_log_max_age = models.DurationField(default=timedelta(days=30))
    receive_protocol_log_max_directory_size = models.BigIntegerField(null=True, default=250 * MB)
    send_protocol_log_max_directory_size = models.BigIntegerField(null=True, default=250 * MB)
    receive_protocol_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    send_protocol_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    message_tracking_log_enabled = models.BooleanField(default=True)
    message_tracking_log_path = models.CharField(max_length=260, default="TransportRoles/Logs/MessageTracking")
    message_tracking_log_max_age = models.DurationField(default=timedelta(days=30))
    message_tracking_log_max_directory_size = models.BigIntegerField(null=True, default=1000 * MB)
    message_tracking_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    root_drop_directory_path = models.CharField(max_length=260, blank=True, default="")
    message_tracking_log_subject_logging_enabled = models.BooleanField(default=True)
    # Set-TransportServer's other Exchange 2010 parameters: stored and shown; those this transport doesn't act on
    # are listed by TRANSPORT_SERVER_NOT_APPLIED in schemas.py (Get- and the console say so).
    external_ip_address = models.CharField(max_length=45, blank=True, default="")
    external_dns_adapter_enabled = models.BooleanField(default=True)
    internal_dns_adapter_enabled = models.BooleanField(default=True)
    external_dns_adapter_guid = models.CharField(max_length=36, default=NULL_GUID)
    internal_dns_adapter_guid = models.CharField(max_length=36, default=NULL_GUID)
    external_dns_protocol_option = models.CharField(max_length=12, default="Any")
    internal_dns_protocol_option = models.CharField(max_length=12, default="Any")
    intra_org_connector_protocol_logging_level = models.CharField(max_length=8, default="None")
    intra_org_connector_smtp_max_messages_per_connection = models.IntegerField(default=20)
    max_connection_rate_per_minute = models.IntegerField(default=1200)
    max_concurrent_mailbox_deliveries = models.IntegerField(default=20)
    max_concurrent_mailbox_submissions = models.IntegerField(default=20)
    poison_message_detection_enabled = models.BooleanField(default=True)
    poison_threshold = models.IntegerField(default=2)
    queue_max_idle_time = models.DurationField(default=timedelta(minutes=3))
    pickup_directory_path = models.CharField(max_length=260, blank=True, default="TransportRoles/Pickup")
    pickup_directory_max_header_size = models.BigIntegerField(default=64 * 1024)
    pickup_directory_max_messages_per_minute = models.IntegerField(default=100)
    pickup_directory_max_recipients_per_message = models.IntegerField(default=100)
    replay_directory_path = models.CharField(max_length=260, blank=True, default="TransportRoles/Replay")
    connectivity_log_enabled = models.BooleanField(default=True)
    connectivity_log_path = models.CharField(max_length=260, blank=True, default="TransportRoles/Logs/Connectivity")
    connectivity_log_max_age = models.DurationField(default=timedelta(days=30))
    connectivity_log_max_directory_size = models.BigIntegerField(null=True, default=1000 * MB)
    connectivity_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    routing_table_log_path = models.CharField(max_length=260, blank=True, default="TransportRoles/Logs/Routing")
    routing_table_log_max_age = models.DurationField(default=timedelta(days=7))
    routing_table_log_max_directory_size = models.BigIntegerField(null=True, default=50 * MB)
    pipeline_tracing_enabled = models.BooleanField(default=False)
    pipeline_tracing_path = models.CharField(max_length=260, blank=True,
                                             default="TransportRoles/Logs/PipelineTracing")
    pipeline_tracing_sender_address = models.CharField(max_length=320, blank=True, default="")
    content_conversion_tracing_enabled = models.BooleanField(default=False)
    server_statistics_log_path = models.CharField(max_length=260, blank=True,
                                                  default="TransportRoles/Logs/ServerStats")
    server_statistics_log_max_age = models.DurationField(default=timedelta(days=30))
    server_statistics_log_max_directory_size = models.BigIntegerField(null=True, default=250 * MB)
    server_statistics_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    active_user_statistics_log_path = models.CharField(max_length=260, blank=True,
                                                       default="TransportRoles/Logs/ActiveUsersStats")
    active_user_statistics_log_max_age = models.DurationField(default=timedelta(days=30))
    active_user_statistics_log_max_directory_size = models.BigIntegerField(null=True, default=250 * MB)
    active_user_statistics_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    irm_log_enabled = models.BooleanField(default=True)
    irm_log_path = models.CharField(max_length=260, blank=True, default="Logging/IRMLogs")
    irm_log_max_age = models.DurationField(default=timedelta(days=30))
    irm_log_max_directory_size = models.BigIntegerField(null=True, default=250 * MB)
    irm_log_max_file_size = models.BigIntegerField(null=True, default=10 * MB)
    antispam_agents_enabled = models.BooleanField(default=False)
    recipient_validation_cache_enabled = models.BooleanField(default=False)
    use_downgraded_exchange_server_auth = models.BooleanField(default=False)
    # Written by the server's transport worker: {"bindings": {"IP:port": "Listening", the error, or "Not
    # listening: ..." while its receive process is down}, "updated": ISO time, and while it runs "heartbeat"
    # (ISO time), "heartbeat_interval" (s), "broker"}, with no bindings once it stopped; what the console and
    # Get-ReceiveConnector/Get-TransportServer show as status, and `manage.py transport_health` checks.
    receive_listener_status = models.JSONField(default=dict, blank=True, editable=False)

    objects = TransportServerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(transient_failure_retry_count__lte=15),
                                   name="server_retry_count_range"),
        ]

    @property
    def is_edge(self):
        return self.role == self.EDGE

    @property
    def exchange_smtp_port(self):
        """The port it takes mail from the organization's servers on: the first binding of its first receive
        connector granting ExchangeServers (25 without one). What an Edge's `--` smart host and a Hub's relay
        to its Edge connect to."""
        for connector in self.receive_connectors.order_by("pk"):
            if "ExchangeServers" in connector.permission_groups and connector.bindings:
                return int(connector.bindings[0].rpartition(":")[2])
        return 25

    @property
    def runs_here(self):
        """Whether this server's worker uses this database (see TransportServerQuerySet.local)."""
        return self.is_edge == Installation.is_edge()

    def binding_status(self, binding):
        """What the worker last reported for one binding: "Listening", why it doesn't, or "Not running"."""
        return self.listener_bindings().get(binding, "Not running")

    @property
    def listener_status(self):
        """Get-TransportServer's ReceiveListenerStatus: every binding the worker runs, with its state."""
        bindings = self.listener_bindings()
        return "; ".join(f"{binding} {state}" for binding, state in sorted(bindings.items())) or "Not running"

    def listener_bindings(self):
        """{binding: state} as the worker reported them, unless its heartbeats stopped (a worker killed, or
        its machine gone, can't say so): then every binding says since when."""
        bindings = self.receive_listener_status.get("bindings", {})
        lost = self.heartbeat_lost()
        return dict.fromkeys(bindings, lost) if lost and bindings else bindings

    @property
    def worker_health(self):
        """HEALTHY, or why the transport worker isn't: not running, no heartbeat since ..., its broker
        unreachable, or the first binding that doesn't listen (`manage.py transport_health`, the console)."""
        status = self.receive_listener_status
        if "heartbeat" not in status:   # none yet, or the worker stopped
            return "The transport worker is not running"
        if lost := self.heartbeat_lost():
            return lost
        if status["broker"] != "Connected":
            return f"Broker {status['broker']}"
        return next((f"{binding} {state}" for binding, state in sorted(self.listener_bindings().items())
                     if state != "Listening"), HEALTHY)

    def heartbeat_lost(self):
        """'Not running: no heartbeat ... since ...' once the worker missed HEARTBEATS_MISSED heartbeats; ''
        while they come (or before a worker ever sent one)."""
        status = self.receive_listener_status
        if "heartbeat" not in status:
            return ""
        last = datetime.fromisoformat(status["heartbeat"])
        if timezone.now() - last <= HEARTBEATS_MISSED * timedelta(seconds=status["heartbeat_interval"]):
            return ""
        return f"Not running: no heartbeat from the transport worker since {last:%Y-%m-%d %H:%M:%S} UTC"

    @property
    def data_directory(self):
        """EXCHANGE_DATA_DIR/<name>: this server's queue store, logs, mailboxes and drop folders."""
        return Path(settings.EXCHANGE_DATA_DIR) / self.name

    def resolve_path(self, path):
        """A configured path (log folders, RootDropDirectoryPath): relative ones are under data_directory."""
        return self.data_directory / path

    @property
    def celery_queue(self):
        return celery_queue(self.name)



class DomainType(models.TextChoices):
    AUTHORITATIVE = "Authoritative"
    INTERNAL_RELAY = "InternalRelay"
    EXTERNAL_RELAY = "ExternalRelay"


class AcceptedDomain(ConfigObject):
    name = models.CharField(max_length=64, unique=True)
    domain_name = models.CharField(max_length=255, unique=True)
    domain_type = models.CharField(max_length=16, choices=DomainType.choices, default=DomainType.AUTHORITATIVE)
    default = models.BooleanField(default=False)
    # Recipient filtering for the domain (Authoritative: on; the relay types: off, set at creation).
    address_book_enabled = models.BooleanField(default=True)
    pending_removal = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["default"], condition=models.Q(default=True),
                                    name="one_default_accepted_domain"),
        ]


class RemoteDomain(ConfigObject):
    """How mail to one outside domain leaves (transport/remote_domains.py). Exchange turns automatic replies and
    forwards on for a new remote domain and off for the built-in Default (*), which setup creates so."""
    name = models.CharField(max_length=64, unique=True)
    domain_name = models.CharField(max_length=255, unique=True)
    auto_reply_enabled = models.BooleanField(default=True)
    auto_forward_enabled = models.BooleanField(default=True)
    delivery_report_enabled = models.BooleanField(default=True)
    ndr_enabled = models.BooleanField(default=True)
    content_type = models.CharField(max_length=16, default="MimeHtmlText")
    character_set = models.CharField(max_length=32, blank=True, default="")
    line_wrap_size = models.IntegerField(null=True, default=None)
    is_internal = models.BooleanField(default=False)
    allowed_oof_type = models.CharField(max_length=16, default="External")
    ndr_diagnostic_info_enabled = models.BooleanField(default=True)
    display_sender_name = models.BooleanField(default=True)
    use_simple_display_name = models.BooleanField(default=False)
    non_mime_character_set = models.CharField(max_length=32, blank=True, default="")
    tnef_enabled = models.BooleanField(null=True, default=None)
    byte_encoder_type_for_7bit_charsets = models.CharField(max_length=32, default="Undefined")
    required_charset_coverage = models.IntegerField(null=True, default=None)
    preferred_internet_code_page_for_shift_jis = models.CharField(max_length=16, default="Undefined")
    meeting_forward_notification_enabled = models.BooleanField(default=True)
    trusted_mail_inbound_enabled = models.BooleanField(default=False)
    trusted_mail_outbound_enabled = models.BooleanField(default=False)
    target_delivery_domain = models.BooleanField(default=False)
    is_coexistence_domain = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]


class RoutingGroup(ConfigObject):
    """A routing group. Exchange 2010 puts all its servers in one, EXCHANGE_2010 (which exists in every
    organization, for coexistence); the others are Exchange 2003's (legacy), created there, known here so that
    routing group connectors can lead to them."""
    EXCHANGE_2010 = "Exchange Routing Group (DWBGZMFD01QNBJR)"
    EXCHANGE_2010_ADMINISTRATIVE_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"

    name = models.CharField(max_length=64, unique=True)
    administrative_group = models.CharField(max_length=64, default="First Administrative Group")
    legacy = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    @property
    def distinguished_identity(self):
        """Exchange's long form: 'Administrative group\\Routing group'."""
        return f"{self.administrative_group}\\{self.name}"


class LegacyExchangeServer(ConfigObject):
    """An Exchange 2003 server: a bridgehead of its routing group that routing group connectors send to (its SMTP
    virtual server's FQDN and port) and that sends to us presenting its certificate (ExchangeLegacyServers)."""
    name = models.CharField(max_length=15, unique=True)
    fqdn = models.CharField(max_length=255)
    routing_group = models.ForeignKey(RoutingGroup, on_delete=models.PROTECT, related_name="legacy_servers")
    port = models.PositiveIntegerField(default=25)
    certificate_pem = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]


class Mailbox(ConfigObject):
    """A mail user: what 'Exchange users' authentication checks, and where local delivery lands. A mailbox in a
    legacy server's database (`EX2003\\First Storage Group\\Mailbox Store (EX2003)`) is delivered by that server:
    mail for it is routed to its routing group."""
    name = models.CharField(max_length=64, unique=True)
    primary_smtp_address = models.CharField(max_length=320, unique=True)
    password = models.CharField(max_length=128)
    database = models.CharField(max_length=256, blank=True, default="")

    @property
    def server_name(self):
        """The legacy server whose database holds it ('' for this organization's Exchange 2010 mailboxes)."""
        return self.database.partition("\\")[0] if self.database else ""

    class Meta:
        ordering = ["name"]

    def check_password(self, raw_password):
        return check_password(raw_password, self.password)
