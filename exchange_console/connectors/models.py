"""Send, Receive and Foreign connectors. Multi-valued parameters are JSON lists of canonical strings
(`SMTP:*.contoso.com;1`, `0.0.0.0:25`, `192.168.1.0/24`) that the schemas parse and check."""
from datetime import timedelta

from django.db import models

from exchange_console import secrets
from exchange_console.organization.models import MB, ConfigObject, Mailbox, RoutingGroup, TransportServer


class ProtocolLoggingLevel(models.TextChoices):
    NONE = "None"
    VERBOSE = "Verbose"


class ConnectorQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)


class OrganizationConnector(ConfigObject):
    """What send and foreign connectors share: org-wide, routed to by address space, sent by source servers."""
    name = models.CharField(max_length=64, unique=True)
    address_spaces = models.JSONField(default=list, blank=True)
    is_scoped_connector = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    comment = models.TextField(blank=True, default="")

    objects = ConnectorQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["name"]


class SendConnector(OrganizationConnector):
    USAGES = ("Custom", "Internal", "Internet", "Partner")

    usage = models.CharField(max_length=16, default="Custom")
    source_transport_servers = models.ManyToManyField(TransportServer, related_name="send_connectors")
    dns_routing_enabled = models.BooleanField(default=True)
    use_external_dns_servers_enabled = models.BooleanField(default=False)
    smart_hosts = models.JSONField(default=list, blank=True)
    smart_host_auth_mechanism = models.CharField(max_length=24, default="None")
    auth_username = models.CharField(max_length=256, blank=True, default="")
    auth_password_encrypted = models.TextField(blank=True, default="")
    port = models.PositiveIntegerField(default=25)
    fqdn = models.CharField(max_length=255, blank=True, default="")
    max_message_size = models.BigIntegerField(null=True, default=10 * MB)
    connection_inactivity_timeout = models.DurationField(default=timedelta(minutes=10))
    protocol_logging_level = models.CharField(max_length=8, choices=ProtocolLoggingLevel.choices,
                                              default=ProtocolLoggingLevel.NONE)
    require_tls = models.BooleanField(default=False)
    ignore_starttls = models.BooleanField(default=False)
    tls_auth_level = models.CharField(max_length=24, blank=True, null=True, default=None)
    tls_domain = models.CharField(max_length=255, blank=True, default="")
    domain_secure_enabled = models.BooleanField(default=False)
    force_helo = models.BooleanField(default=False)
    error_policies = models.JSONField(default=list, blank=True)   # flags; empty = Default
    smtp_max_messages_per_connection = models.PositiveIntegerField(default=20)
    linked_receive_connector = models.ForeignKey("ReceiveConnector", null=True, blank=True,
                                                 on_delete=models.PROTECT, related_name="linked_send_connectors")
    source_ip_address = models.GenericIPAddressField(default="0.0.0.0")   # 0.0.0.0: the system chooses
    # Hybrid (Office 365) mail flow: stored and shown, without effect here (no cloud tenant).
    is_coexistence_connector = models.BooleanField(default=False)
    require_oorg = models.BooleanField(default=False)

    class Meta(OrganizationConnector.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(port__gte=1, port__lte=65535), name="send_port_range"),
            models.CheckConstraint(condition=models.Q(smtp_max_messages_per_connection__gte=1),
                                   name="send_max_messages_per_connection_min"),
        ]

    @property
    def authentication_credential(self):
        """(user, password) for smart host authentication; the password is encrypted at rest."""
        if not self.auth_username:
            return None
        return (self.auth_username, secrets.decrypt(self.auth_password_encrypted))

    @authentication_credential.setter
    def authentication_credential(self, credential):
        user, password = credential or ("", "")
        self.auth_username, self.auth_password_encrypted = user, secrets.encrypt(password)


class ForeignConnector(OrganizationConnector):
    source_transport_servers = models.ManyToManyField(TransportServer, related_name="foreign_connectors")
    drop_directory = models.CharField(max_length=260, blank=True, default="")
    drop_directory_quota = models.BigIntegerField(null=True, default=None)
    max_message_size = models.BigIntegerField(null=True, default=None)
    relay_dsn_required = models.BooleanField(default=False)


class RoutingGroupConnector(ConfigObject):
    """A connector between Exchange 2010's routing group and a legacy (Exchange 2003) one, in one direction: its
    source servers (of its routing group) send to its target servers (bridgeheads of the target routing group)
    over SMTP. Servers are kept by name: Hub Transport servers on Exchange 2010's side, LegacyExchangeServers on
    the other; the routing groups follow from them."""
    name = models.CharField(max_length=64)
    routing_group = models.ForeignKey(RoutingGroup, on_delete=models.PROTECT, related_name="connectors")
    target_routing_group = models.ForeignKey(RoutingGroup, on_delete=models.PROTECT, related_name="+")
    source_transport_servers = models.JSONField(default=list)
    target_transport_servers = models.JSONField(default=list)
    cost = models.PositiveIntegerField(default=1)
    max_message_size = models.BigIntegerField(null=True, default=None)
    public_folder_referrals_enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["routing_group__name", "name"]
        constraints = [models.UniqueConstraint(fields=["routing_group", "name"],
                                               name="routing_group_connector_name_per_group")]

    @property
    def identity(self):
        return f"{self.routing_group.name}\\{self.name}"


class ReceiveConnectorQuerySet(ConnectorQuerySet):
    def for_server(self, server):
        return self.filter(server=server)


class ReceiveConnector(ConfigObject):
    USAGES = ("Custom", "Internet", "Internal", "Client", "Partner")
    PERMISSION_GROUPS = ("AnonymousUsers", "ExchangeUsers", "ExchangeServers", "ExchangeLegacyServers",
                         "Partners", "Custom")
    AUTH_MECHANISMS = ("Tls", "Integrated", "BasicAuth", "BasicAuthRequireTLS", "ExchangeServer",
                       "ExternalAuthoritative")

    server = models.ForeignKey(TransportServer, on_delete=models.CASCADE, related_name="receive_connectors")
    name = models.CharField(max_length=64)
    usage = models.CharField(max_length=16, default="Custom")
    bindings = models.JSONField(default=list)
    remote_ip_ranges = models.JSONField(default=list)
    fqdn = models.CharField(max_length=255, blank=True, default="")
    banner = models.CharField(max_length=512, blank=True, default="")
    permission_groups = models.JSONField(default=list, blank=True)
    auth_mechanism = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    comment = models.TextField(blank=True, default="")
    protocol_logging_level = models.CharField(max_length=8, choices=ProtocolLoggingLevel.choices,
                                              default=ProtocolLoggingLevel.NONE)

    max_message_size = models.BigIntegerField(default=10 * MB)
    max_header_size = models.IntegerField(default=64 * 1024)
    max_recipients_per_message = models.IntegerField(default=200)
    max_hop_count = models.IntegerField(default=30)
    max_local_hop_count = models.IntegerField(default=8)
    max_inbound_connection = models.IntegerField(null=True, default=5000)
    max_inbound_connection_per_source = models.IntegerField(null=True, default=20)
    max_inbound_connection_percentage_per_source = models.IntegerField(default=2)
    connection_timeout = models.DurationField(default=timedelta(minutes=10))
    connection_inactivity_timeout = models.DurationField(default=timedelta(minutes=5))
    message_rate_limit = models.IntegerField(null=True, default=None)
    message_rate_source = models.CharField(max_length=16, default="IPAddress")
    tarpit_interval = models.DurationField(default=timedelta(seconds=5))
    max_protocol_errors = models.IntegerField(null=True, default=5)
    max_logon_failures = models.IntegerField(default=3)

    size_enabled = models.CharField(max_length=24, default="Enabled")
    eight_bit_mime_enabled = models.BooleanField(default=True)
    pipelining_enabled = models.BooleanField(default=True)
    chunking_enabled = models.BooleanField(default=True)
    binary_mime_enabled = models.BooleanField(default=True)
    delivery_status_notification_enabled = models.BooleanField(default=True)
    enhanced_status_codes_enabled = models.BooleanField(default=True)
    require_ehlo_domain = models.BooleanField(default=False)
    require_tls = models.BooleanField(default=False)
    domain_secure_enabled = models.BooleanField(default=False)
    bare_linefeed_rejection_enabled = models.BooleanField(default=False)
    long_addresses_enabled = models.BooleanField(default=False)
    orar_enabled = models.BooleanField(default=False)
    # Stored and shown, without effect here (docs/exchange-behaviour.md "Stored without effect").
    suppress_xanonymous_tls = models.BooleanField(default=False)
    max_acknowledgement_delay = models.DurationField(default=timedelta(seconds=30))
    default_domain = models.ForeignKey("organization.AcceptedDomain", null=True, blank=True, default=None,
                                       on_delete=models.SET_NULL, related_name="+")
    advertise_client_settings = models.BooleanField(default=False)
    enable_auth_gssapi = models.BooleanField(default=False)
    extended_protection_policy = models.CharField(max_length=8, default="None")
    tls_domain_capabilities = models.JSONField(default=list, blank=True)

    objects = ReceiveConnectorQuerySet.as_manager()

    class Meta:
        ordering = ["server__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["server", "name"], name="receive_connector_name_per_server"),
            models.CheckConstraint(condition=models.Q(max_message_size__gte=65536, max_message_size__lte=2147483647),
                                   name="receive_max_message_size_range"),
            models.CheckConstraint(condition=models.Q(connection_inactivity_timeout__lt=models.F("connection_timeout")),
                                   name="receive_inactivity_below_connection_timeout"),
        ]

    @property
    def identity(self):
        return f"{self.server.name}\\{self.name}"

    @property
    def listener_status(self):
        """Each binding's state as the server's transport worker last reported it."""
        if not self.enabled:
            return "Disabled"
        return "; ".join(f"{binding} {self.server.binding_status(binding)}" for binding in self.bindings)



class ReceiveConnectorPermission(models.Model):
    """One Add-ADPermission entry on a receive connector: an extended right allowed (or denied) to a well-known
    security principal (`user`) or to a mailbox user (`mailbox`, so that it follows a renamed address)."""
    connector = models.ForeignKey(ReceiveConnector, on_delete=models.CASCADE, related_name="permissions")
    user = models.CharField(max_length=64, blank=True, default="")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="receive_permissions")
    extended_right = models.CharField(max_length=64)
    deny = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]   # the order they were added in
        constraints = [
            models.CheckConstraint(condition=models.Q(user="", mailbox__isnull=False)
                                   | (~models.Q(user="") & models.Q(mailbox__isnull=True)),
                                   name="receive_permission_one_principal"),
        ]

    @property
    def principal(self):
        """What the session matches: the well-known name, or the mailbox's address (what AUTH yields)."""
        return self.mailbox.primary_smtp_address if self.mailbox_id else self.user

    @property
    def identity(self):
        return self.connector.identity
