"""Schemas of the organization-level objects: parameters under Exchange's names, and their rules."""
import os
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.hashers import make_password

from exchange_console import params as p
from exchange_console.accounts.rbac import is_organization_manager
from exchange_console.lib import domains
from exchange_console.organization.models import (
    AcceptedDomain, AdSiteLink, Mailbox, RemoteDomain, Site, TransportConfig, TransportServer,
)
from exchange_console.schema import ObjectSchema, Param, pending_refs, read_only, rule
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


# --- TransportConfig -----------------------------------------------------------------------------------

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
    ],
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
        Param("ReceiveListenerStatus", "receive_listener_status", p.String(), settable=False,
              getter=lambda server: server.listener_status),
    ],
    rules=server_rules(),
    affected_servers=_server_itself,
    default_columns=("Name", "ServerRole", "Site"),
)


# --- Accepted and remote domains ----------------------------------------------------------------------------

def _default_domain_first(domain, given):
    """The first accepted domain becomes the default, as in Exchange."""
    if not AcceptedDomain.objects.exists():
        domain.default = True


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
    ],
    presets=_default_domain_first,
    rules=[unique_name(AcceptedDomain), unique_domain_name(AcceptedDomain), keeps_a_default],
    before_save=take_default_flag,
    remove_rules=[keep_default_domain, domain_used_by_mailboxes],
    affected_servers=all_servers,
    default_columns=("Name", "DomainName", "DomainType", "Default"),
)


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
        Param("CharacterSet", "character_set", p.String(32)),
        Param("LineWrapSize", "line_wrap_size", p.Int(0, 132, unlimited=True)),
        Param("IsInternal", "is_internal", p.Bool()),
    ],
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


MAILBOX = ObjectSchema(
    noun="Mailbox",
    model=Mailbox,
    params=common_params() + [
        Param("Name", "name", p.String(64, allow_empty=False), mandatory=True),
        Param("PrimarySmtpAddress", "primary_smtp_address", SmtpAddress(), mandatory=True),
        Param("Password", "password", Password(), mandatory=True, shown=False),
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
