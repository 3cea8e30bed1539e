"""Receive connector policy that needs no sockets: which connector a client gets, the rights its permission
groups and Add-ADPermission entries grant, and whether an envelope address may be accepted. Plain functions over
the snapshot."""
import ipaddress
import re
from types import MappingProxyType

from exchange_console.lib.domains import is_domain, most_specific, recipient_hash
from transport.tls import certificate_matches

# Exchange's permission names, in the order its protocol log lists them ("Set Session Permissions").
SUBMIT = "SMTPSubmit"
ACCEPT_ANY_RECIPIENT = "SMTPAcceptAnyRecipient"
ACCEPT_ANY_SENDER = "SMTPAcceptAnySender"
ACCEPT_AUTHORITATIVE_DOMAIN_SENDER = "SMTPAcceptAuthoritativeDomainSender"
BYPASS_ANTI_SPAM = "BypassAntiSpam"
BYPASS_MESSAGE_SIZE_LIMIT = "BypassMessageSizeLimit"
ACCEPT_AUTHENTICATION_FLAG = "SMTPAcceptAuthenticationFlag"
ACCEPT_ROUTING_HEADERS = "AcceptRoutingHeaders"
ACCEPT_FOREST_HEADERS = "AcceptForestHeaders"
ACCEPT_ORGANIZATION_HEADERS = "AcceptOrganizationHeaders"
PERMISSION_ORDER = (
    SUBMIT, ACCEPT_ANY_RECIPIENT, ACCEPT_ANY_SENDER, ACCEPT_AUTHORITATIVE_DOMAIN_SENDER, BYPASS_ANTI_SPAM,
    BYPASS_MESSAGE_SIZE_LIMIT, ACCEPT_AUTHENTICATION_FLAG, ACCEPT_ROUTING_HEADERS, ACCEPT_FOREST_HEADERS,
    ACCEPT_ORGANIZATION_HEADERS,
)

_SERVER_RIGHTS = frozenset({
    SUBMIT, ACCEPT_ANY_RECIPIENT, ACCEPT_ANY_SENDER, ACCEPT_AUTHORITATIVE_DOMAIN_SENDER, BYPASS_MESSAGE_SIZE_LIMIT,
    BYPASS_ANTI_SPAM, ACCEPT_AUTHENTICATION_FLAG, ACCEPT_ROUTING_HEADERS})
GROUP_RIGHTS = MappingProxyType({
    "AnonymousUsers": frozenset({SUBMIT, ACCEPT_ANY_SENDER, ACCEPT_AUTHORITATIVE_DOMAIN_SENDER,
                                 ACCEPT_ROUTING_HEADERS}),
    "ExchangeUsers": frozenset({SUBMIT, ACCEPT_ANY_RECIPIENT, BYPASS_ANTI_SPAM, ACCEPT_ROUTING_HEADERS}),
    "ExchangeServers": _SERVER_RIGHTS | {ACCEPT_ORGANIZATION_HEADERS, ACCEPT_FOREST_HEADERS},
    "ExchangeLegacyServers": _SERVER_RIGHTS,
    "Partners": frozenset({SUBMIT, ACCEPT_ROUTING_HEADERS}),
})

# Who a session is, and the permission groups that grant it rights (as in Exchange, an authenticated
# session is no longer anonymous: AnonymousUsers rights stop applying once it authenticates). On an Edge, a client
# at an address in InternalSMTPServers is the organization's own SMTP server (a DLP or anti-spam appliance between
# the Hubs and the Edge): it doesn't authenticate, so it stays anonymous to the connector, but the Edge relays for
# it as for the Hubs; its organization headers aren't trusted all the same.
ANONYMOUS, MAILBOX_USER, EXCHANGE_SERVER, PARTNER = "anonymous", "user", "server", "partner"
LEGACY_SERVER = "legacy"   # an Exchange 2003 server, known by its certificate (LegacyExchangeServer)
INTERNAL_SMTP_SERVER = "internal"
_PRINCIPAL_GROUPS = MappingProxyType({
    ANONYMOUS: ("AnonymousUsers",),
    MAILBOX_USER: ("ExchangeUsers",),
    EXCHANGE_SERVER: ("ExchangeServers", "ExchangeLegacyServers", "ExchangeUsers"),
    LEGACY_SERVER: ("ExchangeLegacyServers",),
    PARTNER: ("Partners",),
    INTERNAL_SMTP_SERVER: ("AnonymousUsers",),
})
_INTERNAL_SMTP_SERVER_RIGHTS = frozenset({SUBMIT, ACCEPT_ANY_RECIPIENT, ACCEPT_ANY_SENDER,
                                          ACCEPT_AUTHORITATIVE_DOMAIN_SENDER})

# Add-ADPermission's extended rights, by the names Exchange gives them, and the permission each grants.
EXTENDED_RIGHTS = MappingProxyType({
    "ms-Exch-SMTP-Submit": SUBMIT,
    "ms-Exch-SMTP-Accept-Any-Recipient": ACCEPT_ANY_RECIPIENT,
    "ms-Exch-SMTP-Accept-Any-Sender": ACCEPT_ANY_SENDER,
    "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender": ACCEPT_AUTHORITATIVE_DOMAIN_SENDER,
    "ms-Exch-Bypass-Anti-Spam": BYPASS_ANTI_SPAM,
    "ms-Exch-Bypass-Message-Size-Limit": BYPASS_MESSAGE_SIZE_LIMIT,
    "ms-Exch-SMTP-Accept-Authentication-Flag": ACCEPT_AUTHENTICATION_FLAG,
    "ms-Exch-Accept-Headers-Routing": ACCEPT_ROUTING_HEADERS,
    "ms-Exch-Accept-Headers-Organization": ACCEPT_ORGANIZATION_HEADERS,
    "ms-Exch-Accept-Headers-Forest": ACCEPT_FOREST_HEADERS,
})

# The well-known security principals an entry may name; any other principal is a mailbox user.
ANONYMOUS_LOGON = "NT AUTHORITY\\ANONYMOUS LOGON"
AUTHENTICATED_USERS = "NT AUTHORITY\\Authenticated Users"
EXTERNALLY_SECURED_SERVERS = "MS Exchange\\Externally Secured Servers"
PARTNER_SERVERS = "MS Exchange\\Partner Servers"
HUB_TRANSPORT_SERVERS = "MS Exchange\\Hub Transport Servers"
EDGE_TRANSPORT_SERVERS = "MS Exchange\\Edge Transport Servers"
LEGACY_EXCHANGE_SERVERS = "MS Exchange\\Legacy Exchange Servers"
WELL_KNOWN_PRINCIPALS = (ANONYMOUS_LOGON, AUTHENTICATED_USERS, EXTERNALLY_SECURED_SERVERS, PARTNER_SERVERS,
                         HUB_TRANSPORT_SERVERS, EDGE_TRANSPORT_SERVERS, LEGACY_EXCHANGE_SERVERS)
# The principals each permission group grants its rights to (Exchange writes one access control entry for each
# principal and right, which Get-ADPermission lists).
GROUP_PRINCIPALS = MappingProxyType({
    "AnonymousUsers": (ANONYMOUS_LOGON,),
    "ExchangeUsers": (AUTHENTICATED_USERS,),
    "ExchangeServers": (HUB_TRANSPORT_SERVERS, EDGE_TRANSPORT_SERVERS, EXTERNALLY_SECURED_SERVERS),
    "ExchangeLegacyServers": (LEGACY_EXCHANGE_SERVERS,),
    "Partners": (PARTNER_SERVERS,),
})
# An organization server (its certificate) stands for the principals of the groups it gets rights from.
_ORGANIZATION_SERVER = (HUB_TRANSPORT_SERVERS, EDGE_TRANSPORT_SERVERS, LEGACY_EXCHANGE_SERVERS, AUTHENTICATED_USERS)


def security_principals(connector, principal, auth_user=""):
    """The principals (lowercase) a session stands for, that Add-ADPermission entries name. On an
    ExternalAuthoritative connector a server is Externally Secured, not an authenticated organization server."""
    if principal in (ANONYMOUS, INTERNAL_SMTP_SERVER):
        names = (ANONYMOUS_LOGON,)
    elif principal == MAILBOX_USER:
        names = (AUTHENTICATED_USERS, auth_user)
    elif principal == PARTNER:
        names = (PARTNER_SERVERS,)
    elif principal == LEGACY_SERVER:
        names = (LEGACY_EXCHANGE_SERVERS, AUTHENTICATED_USERS)
    elif "ExternalAuthoritative" in connector.auth_mechanism:
        names = (EXTERNALLY_SECURED_SERVERS,)
    else:
        names = _ORGANIZATION_SERVER
    return frozenset(name.lower() for name in names if name)


def session_rights(connector, principal, auth_user=""):
    """The rights a session of this principal gets on this connector: those of its permission groups and of
    the Allow entries for it, less those of the Deny entries for it (a Deny wins, as in Windows ACLs)."""
    rights = set(_INTERNAL_SMTP_SERVER_RIGHTS if principal == INTERNAL_SMTP_SERVER else ())
    for group in _PRINCIPAL_GROUPS[principal]:
        if group in connector.permission_groups:
            rights |= GROUP_RIGHTS[group]
    names = security_principals(connector, principal, auth_user)
    entries = [(EXTENDED_RIGHTS[right], deny) for user, right, deny in connector.permissions if user in names]
    rights |= {right for right, deny in entries if not deny}
    return frozenset(rights - {right for right, deny in entries if deny})


def group_grants(permission_groups):
    """(group, principal, extended right) for each right the connector's permission groups grant."""
    return tuple((group, principal, name) for group in GROUP_RIGHTS if group in permission_groups
                 for principal in GROUP_PRINCIPALS[group]
                 for name, right in EXTENDED_RIGHTS.items() if right in GROUP_RIGHTS[group])


def authentication_useful(connector):
    """Whether AUTH can lead to a session that submits: the ExchangeUsers group, or an Allow entry granting
    ms-Exch-SMTP-Submit to Authenticated Users or to a mailbox user."""
    if SUBMIT in session_rights(connector, MAILBOX_USER):
        return True
    not_users = {name.lower() for name in WELL_KNOWN_PRINCIPALS} - {AUTHENTICATED_USERS.lower()}
    return any(EXTENDED_RIGHTS[right] == SUBMIT and not deny and user not in not_users
               for user, right, deny in connector.permissions)


def format_rights(rights):
    return " ".join(right for right in PERMISSION_ORDER if right in rights)


def is_internal_smtp_server(snapshot, address):
    """Whether a client is one of the organization's SMTP servers that an Edge relays for (InternalSMTPServers)."""
    return snapshot.is_edge and any(address in servers for servers in snapshot.internal_smtp_servers)


def select_connector(connectors, local_address, local_port, remote_address):
    """The enabled connector listening on this endpoint whose RemoteIPRanges most specifically contain the
    client (the smallest matching range wins); None refuses the session."""
    local, remote = ipaddress.ip_address(local_address), ipaddress.ip_address(remote_address)
    best, best_size = None, None
    listening = (connector for connector in connectors if connector.enabled
                 and any(_binding_accepts(binding, local, local_port) for binding in connector.bindings))
    for connector in listening:
        for remote_range in connector.remote_ip_ranges:
            if remote in remote_range and (best_size is None or remote_range.size < best_size):
                best, best_size = connector, remote_range.size
    return best


def _binding_accepts(binding, local, port):
    if binding.port != port:
        return False
    if binding.address.is_unspecified:
        return True
    mapped = getattr(local, "ipv4_mapped", None)
    return binding.address in (local, mapped)


def accepted_domain_of(accepted_domains, domain):
    """(pattern, DomainType) of the accepted domain that most specifically matches, or None."""
    return most_specific(accepted_domains, domain)


def is_authoritative(accepted_domains, domain):
    found = accepted_domain_of(accepted_domains, domain)
    return found is not None and found[1] == "Authoritative"


def recipient_accepted(rights, accepted_domains, address, tricks):
    """Whether RCPT TO takes `address` (else 550 5.7.1 Unable to relay): a session with SMTPAcceptAnyRecipient
    may relay anywhere; any other takes only recipients in an accepted domain, and no relay trick (%-hack,
    source route, quoted local part) even there, since another server could read such a path as a relay."""
    if ACCEPT_ANY_RECIPIENT in rights:
        return True
    return not tricks and accepted_domain_of(accepted_domains, domain_of(address)) is not None


def recipient_unknown(principal, rights, snapshot, address):
    """Recipient filtering, as an Edge's Recipient Filter agent does with recipient validation (else 550 5.1.1
    User unknown): a recipient in an Authoritative accepted domain must be one of the organization's recipients
    EdgeSync brought, unless the domain's AddressBookEnabled is $false. Only external mail is filtered (anonymous and partner sessions, unless granted
    ms-Exch-Bypass-Anti-Spam); nothing is until EdgeSync brought the recipients. InternalRelay domains are not
    filtered: their recipients may live elsewhere; nor is the postmaster, whom every server takes (RFC 5321)."""
    if snapshot.recipient_hashes is None or principal not in (ANONYMOUS, PARTNER) or BYPASS_ANTI_SPAM in rights:
        return False
    if address.lower() == snapshot.postmaster_address.lower():
        return False
    found = accepted_domain_of(snapshot.accepted_domains, domain_of(address))
    return (found is not None and found[1] == "Authoritative"
            and found[0].lower() not in snapshot.unfiltered_domains   # AddressBookEnabled $false
            and recipient_hash(address) not in snapshot.recipient_hashes)


def sender_allowed(rights, accepted_domains, address, auth_user="", partner=False, partner_certificate=None):
    """Whether MAIL FROM takes `address` (else 550 5.7.1 Client does not have permissions to send as this
    sender). The null sender and an authenticated user's own address always; a sender in an authoritative
    domain needs SMTPAcceptAuthoritativeDomainSender; a domain-secured partner may send only from the domains
    its verified certificate names; anyone else needs SMTPAcceptAnySender."""
    if not address or (auth_user and address.lower() == auth_user):
        return True
    domain = domain_of(address)
    if is_authoritative(accepted_domains, domain):
        return ACCEPT_AUTHORITATIVE_DOMAIN_SENDER in rights
    if partner:
        return certificate_matches(partner_certificate, domain)
    return ACCEPT_ANY_SENDER in rights


class AddressError(ValueError):
    """A path the server won't take; `reply` is the SMTP reply to send."""

    def __init__(self, reply):
        super().__init__(reply)
        self.reply = reply


_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def parse_path(text, allow_null=False, postmaster=None):
    """'<local@domain> PARAMS' -> (address, [params], tricks) where tricks says whether the path uses a
    source route, a quoted local part or '%'/'!' routing in its local part (old relay tricks).
    `postmaster`: the address a bare <postmaster> stands for (RCPT TO; RFC 5321 4.5.1: every server takes it)."""
    text = text.strip()
    if text.startswith("<"):
        path, closing, rest = text[1:].partition(">")
        if not closing:
            raise AddressError("501 5.1.7 Invalid address")
    else:
        path, _, rest = text.partition(" ")
    params = rest.split()
    if path == "":
        if not allow_null:
            raise AddressError("501 5.1.3 Invalid address")
        return "", params, False
    if postmaster and path.lower() == "postmaster":
        return postmaster, params, False
    tricks = False
    if path.startswith("@"):       # source route <@relay1,@relay2:user@domain>
        route, colon, path = path.partition(":")
        if not colon:
            raise AddressError("501 5.1.7 Invalid address")
        tricks = True
    local, at, domain = path.rpartition("@")
    if not at or not local or not _is_domain_or_literal(domain):
        raise AddressError("501 5.1.7 Invalid address")
    if local.startswith('"') and local.endswith('"') and len(local) >= 2:
        tricks = True
    elif not _DOT_ATOM.match(local):
        raise AddressError("501 5.1.7 Invalid address")
    if "%" in local or "!" in local:
        tricks = True
    return f"{local}@{domain}", params, tricks


def _is_domain_or_literal(domain):
    if domain.startswith("[") and domain.endswith("]"):
        try:
            ipaddress.ip_address(domain[1:-1].removeprefix("IPv6:"))
            return True
        except ValueError:
            return False
    return is_domain(domain)


def domain_of(address):
    return address.rpartition("@")[2].lower()
