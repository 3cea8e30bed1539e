"""Properties dialogs: their tabs and controls in the EMC's words, each control bound to one Exchange parameter.

A dialog form is generated from these specs and the schema's Params; OK and Apply send only the parameters
whose parsed value changed to set_object(), with the version the dialog was opened at.
"""
from django import forms

from exchange_console import params as p
from exchange_console.connectors.schemas import (
    FOREIGN_CONNECTOR, RECEIVE_CONNECTOR, ROUTING_GROUP_CONNECTOR, SEND_CONNECTOR,
)
from exchange_console.console.fields import TICKED, FieldSpec as F, field_for, initial_for
from exchange_console.edge.schemas import EDGE_SUBSCRIPTION
from exchange_console.organization.schemas import (
    ACCEPTED_DOMAIN, MAILBOX, REMOTE_DOMAIN, TRANSPORT_CONFIG, TRANSPORT_SERVER, Password,
)

PROTOCOL_LOGGING = F("ProtocolLoggingLevel", "Protocol logging level:")
HELO_FQDN = F("Fqdn", "Specify the FQDN this connector will provide in response to HELO or EHLO:")
MODIFIED = F("WhenChanged", "Modified:")
STATUS = F("Enabled", "Enabled")
COMMENT = F("Comment", "Comment:")
NOT_APPLIED = F("NotAppliedHere", "Saved, but without effect here:")
ERROR_POLICIES = {
    "DowngradeDnsFailures": "Retry DNS failures (no NDR)",
    "DowngradeCustomFailures": "Retry permanent SMTP failures other than addressing ones",
    "UpgradeCustomFailures": "Fail at once on transient SMTP replies",
}

AUTH_MECHANISMS = {
    "Tls": "Transport Layer Security (TLS)",
    "BasicAuth": "Basic Authentication",
    "BasicAuthRequireTLS": "Offer Basic authentication only after starting TLS",
    "ExchangeServer": "Exchange Server authentication",
    "Integrated": "Integrated Windows authentication",
    "ExternalAuthoritative": "Externally Secured (for example, with IPsec)",
}
PERMISSION_GROUPS = {
    "AnonymousUsers": "Anonymous users", "ExchangeUsers": "Exchange users", "ExchangeServers": "Exchange servers",
    "ExchangeLegacyServers": "Legacy Exchange Servers", "Partners": "Partners", "Custom": "Custom",
}
SMART_HOST_AUTH = {
    "None": "None", "BasicAuth": "Basic Authentication", "BasicAuthRequireTLS": "Basic Authentication over TLS",
    "ExchangeServer": "Exchange Server Authentication", "ExternalAuthoritative": "Externally Secured (for example, with IPsec)",
}
DNS_ROUTING = {
    "True": 'Use domain name system (DNS) "MX" records to route mail automatically',
    "False": "Route mail through the following smart hosts",
}
DOMAIN_TYPES = {
    "Authoritative": "Authoritative Domain. E-mail is delivered to a recipient in this Exchange organization.",
    "InternalRelay": "Internal Relay Domain. E-mail is delivered to recipients in this Exchange organization "
                     "or relayed to an e-mail server at another physical location.",
    "ExternalRelay": "External Relay Domain. E-mail is relayed to an e-mail server at another physical location.",
}

RECEIVE_CONNECTOR_TABS = (
    ("General", (F("Name", "Name:"), MODIFIED, STATUS, PROTOCOL_LOGGING, HELO_FQDN,
                 F("MaxMessageSize", "Maximum message size:"), F("Banner", "Banner:"), COMMENT)),
    ("Network", (F("Bindings", "Use these local IP addresses to receive mail:", help="IP address:port"),
                 F("RemoteIPRanges", "Receive mail from remote servers that have these IP addresses:",
                   help="IP address, range (a-b) or CIDR"))),
    ("Authentication", (F("AuthMechanism", "Authentication mechanisms:", AUTH_MECHANISMS),
                        F("DomainSecureEnabled", "Enable Domain Security (Mutual Auth TLS)"),
                        F("RequireTLS", "Require Transport Layer Security (TLS)"),
                        F("EnableAuthGSSAPI", "Enable Kerberos (GSSAPI) for Integrated Windows authentication"),
                        F("ExtendedProtectionPolicy", "Extended Protection for Authentication:"),
                        F("SuppressXAnonymousTls", "Don't offer X-ANONYMOUSTLS"),
                        F("TlsDomainCapabilities", "TLS domain capabilities:", help="domain:capability"))),
    ("Permission Groups", (F("PermissionGroups", "Specify who is allowed to connect:", PERMISSION_GROUPS),)),
    ("Limits", (F("MaxHeaderSize", "Maximum header size:"),
                F("MaxRecipientsPerMessage", "Maximum recipients per message:"),
                F("MaxHopCount", "Maximum hop count:"), F("MaxLocalHopCount", "Maximum local hop count:"),
                F("MaxInboundConnection", "Maximum inbound connections:"),
                F("MaxInboundConnectionPerSource", "Maximum inbound connections per source:"),
                F("MaxInboundConnectionPercentagePerSource", "Maximum inbound connection percentage per source:"),
                F("ConnectionTimeout", "Connection timeout:"),
                F("ConnectionInactivityTimeout", "Connection inactivity timeout:"),
                F("MessageRateLimit", "Message rate limit (messages per minute):"),
                F("MessageRateSource", "Message rate source:"), F("TarpitInterval", "Tarpit interval:"),
                F("MaxProtocolErrors", "Maximum protocol errors:"), F("MaxLogonFailures", "Maximum logon failures:"))),
    ("Extensions", (F("SizeEnabled", "SIZE extension:"), F("EightBitMimeEnabled", "Enable 8BITMIME"),
                    F("PipeliningEnabled", "Enable PIPELINING"), F("ChunkingEnabled", "Enable CHUNKING"),
                    F("BinaryMimeEnabled", "Enable BINARYMIME"),
                    F("DeliveryStatusNotificationEnabled", "Enable delivery status notifications (DSN)"),
                    F("EnhancedStatusCodesEnabled", "Enable enhanced status codes"),
                    F("RequireEHLODomain", "Require a domain in EHLO"),
                    F("BareLinefeedRejectionEnabled", "Reject messages with bare line feeds"),
                    F("LongAddressesEnabled", "Accept long X.400 addresses (XLONGADDR)"),
                    F("OrarEnabled", "Accept Originator Requested Alternate Recipients (XORAR)"))),
    ("Advanced", (F("MaxAcknowledgementDelay", "Maximum acknowledgement delay:"),
                  F("DefaultDomain", "Default domain:"),
                  F("AdvertiseClientSettings", "Advertise the client settings in Outlook Web App"),
                  NOT_APPLIED)),
)

SEND_CONNECTOR_TABS = (
    ("General", (F("Name", "Name:"), F("Usage", "Intended use:"), MODIFIED, STATUS, PROTOCOL_LOGGING, HELO_FQDN,
                 F("MaxMessageSize", "Maximum message size:"), COMMENT)),
    ("Address Space", (F("AddressSpaces", "Address space:"), F("IsScopedConnector", "Scoped send connector"))),
    ("Network", (F("DNSRoutingEnabled", "Select how to send mail with this connector:", DNS_ROUTING, radio=True),
                 F("UseExternalDNSServersEnabled", "Use the External DNS Lookup settings on the transport server"),
                 F("SmartHosts", "Smart hosts:", help="IP address or FQDN"),
                 F("SmartHostAuthMechanism", "Smart host authentication:", SMART_HOST_AUTH),
                 F("AuthenticationCredential", "User name:"),
                 F("DomainSecureEnabled", "Enable Domain Security (Mutual Auth TLS)"),
                 F("RequireTLS", "Require Transport Layer Security (TLS)"),
                 F("IgnoreSTARTTLS", "Ignore STARTTLS"), F("TlsAuthLevel", "TLS authentication level:"),
                 F("TlsDomain", "TLS domain:"), F("Port", "Port:"), F("ForceHELO", "Send HELO instead of EHLO"))),
    ("Source Server", (F("SourceTransportServers", "Source servers:"),)),
    ("Advanced", (F("ConnectionInactivityTimeOut", "Connection inactivity time-out:"),
                  F("SmtpMaxMessagesPerConnection", "Maximum messages per connection:"),
                  F("ErrorPolicies", "Error policies:", ERROR_POLICIES),
                  F("LinkedReceiveConnector", "Linked receive connector:"),
                  F("SourceIPAddress", "Source IP address:"),
                  F("IsCoexistenceConnector", "Coexistence (hybrid) connector"),
                  F("RequireOorg", "Require cross-premises (Oorg) headers"), NOT_APPLIED)),
)

FOREIGN_CONNECTOR_TABS = (
    ("General", (F("Name", "Name:"), MODIFIED, STATUS, F("MaxMessageSize", "Maximum message size:"),
                 F("DropDirectory", "Drop directory:"), F("DropDirectoryQuota", "Drop directory quota:"),
                 F("RelayDsnRequired", "Relay delivery status notifications"), COMMENT)),
    ("Address Space", (F("AddressSpaces", "Address space:"), F("IsScopedConnector", "Scoped connector"))),
    ("Source Server", (F("SourceTransportServers", "Source servers:"),)),
)

ACCEPTED_DOMAIN_TABS = (
    ("General", (F("Name", "Name:"), F("DomainName", "Accepted Domain:"),
                 F("DomainType", "This accepted domain is:", DOMAIN_TYPES, radio=True),
                 F("MakeDefault", "Set as default"))),
)

OOF_TYPES = {
    "None": "Allow none",
    "External": "Allow external out-of-office messages only",
    "ExternalLegacy": "Allow external out-of-office messages, and out-of-office messages set by Outlook 2003 or "
                      "earlier clients or sent by Exchange Server 2003 or earlier servers",
    "InternalLegacy": "Allow internal out-of-office messages, and out-of-office messages set by Outlook 2003 or "
                      "earlier clients or sent by Exchange Server 2003 or earlier servers",
}
TNEF = {"": "Determined by individual user settings", "True": "Always use", "False": "Never use"}

REMOTE_DOMAIN_TABS = (
    ("General", (F("Name", "Name:"), F("DomainName", "Domain name:"), F("IsInternal", "This is an internal domain"),
                 F("AllowedOOFType", "Out-of-office message types delivered to this remote domain:", OOF_TYPES,
                   radio=True))),
    ("Format of original message sent as attachment to journal report", (
        F("AutoReplyEnabled", "Allow automatic replies"), F("AutoForwardEnabled", "Allow automatic forward"),
        F("DeliveryReportEnabled", "Allow delivery reports"), F("NDREnabled", "Allow non-delivery reports"),
        F("NDRDiagnosticInfoEnabled", "Include diagnostic information in non-delivery reports"),
        F("DisplaySenderName", "Display sender's name on messages"),
        F("ContentType", "Exchange rich-text format / MIME:", {
            "MimeHtmlText": "MIME HTML and text", "MimeHtml": "MIME HTML", "MimeText": "MIME text"}),
        F("TNEFEnabled", "Exchange rich-text format:", TNEF, radio=True),
        F("CharacterSet", "MIME character set:"), F("NonMimeCharacterSet", "Non-MIME character set:"),
        F("LineWrapSize", "Line wrap size:"), NOT_APPLIED)),
)

TRANSPORT_CONFIG_TABS = (
    ("General", (F("MaxReceiveSize", "Maximum receive size:"), F("MaxSendSize", "Maximum send size:"),
                 F("MaxRecipientEnvelopeLimit", "Maximum number of recipients:"),
                 F("ExternalPostmasterAddress", "External postmaster address:"))),
    ("Message Delivery", (F("TLSReceiveDomainSecureList", "Receive domain secure (TLS) domains:", help="Domain"),
                          F("TLSSendDomainSecureList", "Send domain secure (TLS) domains:", help="Domain"),
                          F("InternalSMTPServers", "IP addresses of internal SMTP servers:",
                            help="IP address, range (a-b) or CIDR"),
                          F("GenerateCopyOfDSNFor", "Send a copy of non-delivery reports with these DSN codes to "
                                                    "the postmaster mailbox:", help="DSN code, e.g. 5.7.1"))),
    ("Delivery Status Notifications", tuple(
        F(f"{scope}{name}", f"{scope} {words}")
        for scope in ("External", "Internal")
        for name, words in (("DsnSendHtml", "DSNs in HTML"),
                            ("DsnMaxMessageAttachSize", "DSNs: attach the original message up to:"),
                            ("DsnReportingAuthority", "DSNs' reporting authority (domain):"),
                            ("DelayDsnEnabled", "delay DSNs enabled")))),
    ("Transport Dumpster and Shadow Redundancy", (
        F("MaxDumpsterSizePerDatabase", "Maximum size per database:"),
        F("MaxDumpsterTime", "Maximum retention time:"),
        F("ShadowRedundancyEnabled", "Enable shadow redundancy"),
        F("JournalingReportNdrTo", "Send undeliverable journal reports to:"), NOT_APPLIED)),
)

TRANSPORT_SERVER_TABS = (
    ("General", (F("Name", "Name:"), F("ServerRole", "Role:"), F("Fqdn", "FQDN:"), F("Site", "Site:"))),
    ("Limits", (F("OutboundConnectionFailureRetryInterval", "Outbound connection failure retry interval:"),
                F("TransientFailureRetryInterval", "Transient failure retry interval:"),
                F("TransientFailureRetryCount", "Transient failure retry attempts:"),
                F("MessageRetryInterval", "Message retry interval:"),
                F("MessageExpirationTimeout", "Maximum time since submission:"),
                F("DelayNotificationTimeout", "Notify sender when message is delayed more than:"),
                F("MaxOutboundConnections", "Maximum concurrent outbound connections:"),
                F("MaxPerDomainOutboundConnections", "Maximum concurrent outbound connections per domain:"))),
    ("Log Settings", tuple(
        F(f"{kind}{part}", f"{title} {words}:")
        for kind, title in (("ReceiveProtocolLog", "Receive connector protocol log"),
                            ("SendProtocolLog", "Send connector protocol log"),
                            ("MessageTrackingLog", "Message tracking log"))
        for part, words in (("Path", "path"), ("MaxAge", "maximum age"),
                            ("MaxDirectorySize", "maximum directory size"), ("MaxFileSize", "maximum file size"))
    ) + (F("MessageTrackingLogEnabled", "Enable message tracking log"),
         F("MessageTrackingLogSubjectLoggingEnabled", "Enable message subject logging in message tracking log"),
         F("ConnectivityLogEnabled", "Enable connectivity logging"),
         F("ConnectivityLogPath", "Connectivity log path:"),
         F("RootDropDirectoryPath", "Root drop directory path:"), NOT_APPLIED)),
    ("Internal DNS Lookups", (F("InternalDNSAdapterEnabled", "Use network card DNS settings"),
                              F("InternalDNSServers", "Use these DNS servers:", help="IP address"))),
    ("External DNS Lookups", (F("ExternalDNSAdapterEnabled", "Use network card DNS settings"),
                              F("ExternalDNSServers", "Use these DNS servers:", help="IP address"))),
)

# Shown read-only (the console's Kind says why): Exchange 2010's console lists them, the shell manages them.
ROUTING_GROUP_CONNECTOR_TABS = (
    ("General", (F("Name", "Name:"), MODIFIED, F("Cost", "Cost:"), F("MaxMessageSize", "Maximum message size:"),
                 F("PublicFolderReferralsEnabled", "Allow public folder referrals"))),
    ("Servers", (F("SourceRoutingGroup", "Source routing group:"), F("SourceTransportServers", "Source servers:"),
                 F("TargetRoutingGroup", "Target routing group:"), F("TargetTransportServers", "Target servers:"))),
)

MAILBOX_TABS = (
    ("General", (F("Name", "Name:"), F("PrimarySmtpAddress", "E-mail address:"),
                 F("Password", "Password:", secret=True), F("Database", "Database:"))),
)

EDGE_SUBSCRIPTION_TABS = (
    ("General", (F("Name", "Name:"), F("Site", "Site:"), F("Domain", "Domain:"), F("Fqdn", "FQDN:"),
                 F("SmtpPort", "SMTP port:"), F("EdgeSyncPort", "EdgeSync port:"),
                 F("BootstrapExpires", "Subscription file valid until:"))),
    ("Synchronization", (F("LastConfigurationSync", "Last configuration synchronization:"),
                         F("LastRecipientSync", "Last recipient synchronization:"),
                         F("LastSyncResult", "Result:"), F("FailureDetails", "Failure details:"))),
)

def with_advanced(schema, tabs, title="Advanced"):
    """The EMC's tabs, and one more with the parameters the EMC sets only from the shell (each labelled with its
    Exchange name), so that every parameter has a place in the console."""
    placed = {spec.name for _, specs in tabs for spec in specs}
    rest = tuple(F(param.name, f"{param.name}:") for param in schema.params
                 if param.settable and not param.create_only and param.shown and param.name not in placed)
    return tabs + ((title, rest),) if rest else tabs


ACCEPTED_DOMAIN_TABS = with_advanced(ACCEPTED_DOMAIN, ACCEPTED_DOMAIN_TABS)
REMOTE_DOMAIN_TABS = with_advanced(REMOTE_DOMAIN, REMOTE_DOMAIN_TABS)
TRANSPORT_CONFIG_TABS = with_advanced(TRANSPORT_CONFIG, TRANSPORT_CONFIG_TABS)
TRANSPORT_SERVER_TABS = with_advanced(TRANSPORT_SERVER, TRANSPORT_SERVER_TABS)

TABS = {
    SEND_CONNECTOR.noun: SEND_CONNECTOR_TABS, RECEIVE_CONNECTOR.noun: RECEIVE_CONNECTOR_TABS,
    FOREIGN_CONNECTOR.noun: FOREIGN_CONNECTOR_TABS, ACCEPTED_DOMAIN.noun: ACCEPTED_DOMAIN_TABS,
    REMOTE_DOMAIN.noun: REMOTE_DOMAIN_TABS, TRANSPORT_CONFIG.noun: TRANSPORT_CONFIG_TABS,
    TRANSPORT_SERVER.noun: TRANSPORT_SERVER_TABS, MAILBOX.noun: MAILBOX_TABS,
    EDGE_SUBSCRIPTION.noun: EDGE_SUBSCRIPTION_TABS, ROUTING_GROUP_CONNECTOR.noun: ROUTING_GROUP_CONNECTOR_TABS,
}

PASSWORD_SUFFIX = "Password"


class SchemaForm(forms.Form):
    """Fields named by Exchange parameter; `tabs` lists (title, field names) for the template."""
    show_errors = True

    def __init__(self, schema, tabs, *args, creating=False, **kwargs):
        super().__init__(*args, label_suffix="", **kwargs)
        self.schema, self.tabs, self.password_fields = schema, [], set()
        for title, specs in tabs:
            names = []
            for spec in specs:
                param = schema.param(spec.name)
                if isinstance(param.type, p.Credential):
                    self.fields[spec.name] = forms.CharField(label=spec.label, required=False)
                    self.fields[spec.name + PASSWORD_SUFFIX] = forms.CharField(
                        label="Password:", required=False, widget=forms.PasswordInput)
                    names += [spec.name, spec.name + PASSWORD_SUFFIX]
                    self.password_fields.add(spec.name + PASSWORD_SUFFIX)
                    continue
                self.fields[spec.name] = field_for(param, spec)
                self.fields[spec.name].disabled = not param.settable or (param.create_only and not creating)
                names.append(spec.name)
            self.tabs.append((title, names))

    def tab_fields(self):
        return [(title, [self[name] for name in names]) for title, names in self.tabs]

    def add_configuration_errors(self, error):
        for parameter, messages in error.by_parameter().items():
            target = parameter if parameter in self.fields and not self.fields[parameter].disabled else None
            for message in messages:
                self.add_error(target, message)


class PropertiesForm(SchemaForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, schema, obj, *args, **kwargs):
        super().__init__(schema, TABS[schema.noun], *args, **kwargs)
        self.obj = obj
        for name, form_field in self.fields.items():
            if name == "version" or name in self.password_fields:
                continue
            param = schema.param(name)
            if isinstance(param.type, p.Credential):
                form_field.initial = (obj.authentication_credential or ("",))[0]
            elif not isinstance(param.type, Password):
                form_field.initial = initial_for(param, schema.value(obj, param))
        self.fields["version"].initial = obj.version

    def changed_values(self):
        """{ExchangeParameterName: collected value} for the controls whose parsed value differs from the stored."""
        changes = {}
        for name, value in self.cleaned_data.items():
            if name == "version" or name in self.password_fields or self.fields[name].disabled:
                continue
            param = self.schema.param(name)
            if isinstance(param.type, p.Credential):
                value = self._credential(value, self.cleaned_data.get(name + PASSWORD_SUFFIX))
                if value is not False:
                    changes[name] = value
            elif isinstance(param.type, Password):
                if value:
                    changes[name] = value
            elif _differs(param, self.schema.value(self.obj, param), value):
                changes[name] = value
        return changes

    def _credential(self, user, password):
        """The new (user, password), None to clear it, or False for no change."""
        current = self.obj.authentication_credential
        if not user:
            return None if current else False
        if password or not current:
            return (user, password)
        return (user, current[1]) if user != current[0] else False


def _differs(param, stored, collected):
    try:
        proposed = param.type.parse(collected)
    except (ValueError, TypeError):
        return True  # let the service layer refuse it, with its message
    if isinstance(param.type, p.ObjectRefs):
        return {obj.pk for obj in proposed} != {obj.pk for obj in stored}
    if isinstance(param.type, p.ObjectRef):
        return getattr(proposed, "pk", None) != getattr(stored, "pk", None)
    return proposed != stored


def edit_rows(data):
    """Form data after a rows widget's Remove button: the row's inputs taken out, later rows moved up.

    Add needs no edit: the row typed into the blank line becomes a row and a new blank line is shown.
    """
    data = data.copy()
    name, _, index = data.get("rows-remove", "").rpartition(":")
    if not name or not index.isdigit():
        return data
    index = int(index)
    for key in list(data.keys()):
        values = data.getlist(key)
        if key.startswith(f"{name}-{TICKED}"):  # a checkbox column posts the indexes of its ticked rows
            data.setlist(key, [str(int(v) - (int(v) > index)) for v in values if v.isdigit() and int(v) != index])
        elif key.startswith(name + "-"):
            data.setlist(key, values[:index] + values[index + 1:])
    return data
