"""The receive connector's decisions as tables, without sockets or a worker: the rights each permission group
grants (the protocol log's "Set Session Permissions" line), which connector a client gets, the accepted domain
an address falls in, how an envelope path is read, and whether RCPT TO and MAIL FROM are taken.
tests/test_receive_policy.py checks the same rules through SMTP sessions."""
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest

from exchange_console.lib.domains import recipient_hash
from exchange_console.lib.ipranges import parse_binding, parse_ip_range
from transport.receive.policy import (
    ANONYMOUS, EXCHANGE_SERVER, EXTENDED_RIGHTS, INTERNAL_SMTP_SERVER, MAILBOX_USER, PARTNER, PERMISSION_ORDER,
    AddressError, accepted_domain_of, authentication_useful, format_rights, group_grants, is_internal_smtp_server,
    parse_path, recipient_accepted, recipient_unknown, select_connector, sender_allowed, session_rights,
)
from transport.receive.session import SEND_AS_DENIED, UNABLE_TO_RELAY
from transport.snapshot import ReceiveConnectorConfig

ALL_REMOTE = "0.0.0.0-255.255.255.255"


def connector(name="Internet", groups=("AnonymousUsers",), bindings=("0.0.0.0:25",), ranges=(ALL_REMOTE,),
              enabled=True):
    """A receive connector with Exchange 2010's defaults."""
    return ReceiveConnectorConfig(
        identity=f"HUB01\\{name}", name=name, bindings=tuple(parse_binding(text) for text in bindings),
        remote_ip_ranges=tuple(parse_ip_range(text) for text in ranges), fqdn="hub01.contoso.com", banner="",
        permission_groups=frozenset(groups), auth_mechanism=frozenset({"Tls"}), enabled=enabled,
        protocol_logging_level="None", max_message_size=10 * 1024 * 1024, max_header_size=64 * 1024,
        max_recipients_per_message=200, max_hop_count=30, max_local_hop_count=8, max_inbound_connection=5000,
        max_inbound_connection_per_source=20, max_inbound_connection_percentage_per_source=2,
        connection_timeout=timedelta(minutes=10), connection_inactivity_timeout=timedelta(minutes=5),
        message_rate_limit=None, message_rate_source="None", tarpit_interval=timedelta(seconds=5),
        max_protocol_errors=5, max_logon_failures=3, size_enabled="Enabled", eight_bit_mime_enabled=True,
        pipelining_enabled=True, delivery_status_notification_enabled=True, enhanced_status_codes_enabled=True,
        require_ehlo_domain=False, require_tls=False, domain_secure_enabled=False)


# --- permission groups -----------------------------------------------------------------------------------

# "Set Session Permissions" as Exchange's protocol log writes it (REFERENCE.md quotes the anonymous line).
ANONYMOUS_LINE = "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"
USER_LINE = "SMTPSubmit SMTPAcceptAnyRecipient BypassAntiSpam AcceptRoutingHeaders"
LEGACY_SERVER_LINE = ("SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                      "BypassAntiSpam BypassMessageSizeLimit SMTPAcceptAuthenticationFlag AcceptRoutingHeaders")
SERVER_LINE = LEGACY_SERVER_LINE + " AcceptForestHeaders AcceptOrganizationHeaders"
PARTNER_LINE = "SMTPSubmit AcceptRoutingHeaders"


@pytest.mark.parametrize("groups, principal, expected", [
    (("AnonymousUsers",), ANONYMOUS, ANONYMOUS_LINE),                        # the Internet connector
    (("AnonymousUsers",), MAILBOX_USER, ""),                                 # authenticated: no longer anonymous
    (("ExchangeUsers",), ANONYMOUS, ""),                                     # the Client connector before AUTH
    (("ExchangeUsers",), MAILBOX_USER, USER_LINE),
    (("AnonymousUsers", "ExchangeUsers"), ANONYMOUS, ANONYMOUS_LINE),
    (("AnonymousUsers", "ExchangeUsers"), MAILBOX_USER, USER_LINE),
    (("ExchangeServers", "ExchangeLegacyServers"), ANONYMOUS, ""),           # the Internal connector before TLS
    (("ExchangeServers", "ExchangeLegacyServers"), EXCHANGE_SERVER, SERVER_LINE),
    (("ExchangeServers",), EXCHANGE_SERVER, SERVER_LINE),                     # ExternalAuthoritative
    (("ExchangeLegacyServers",), EXCHANGE_SERVER, LEGACY_SERVER_LINE),        # no organization or forest headers
    (("ExchangeUsers",), EXCHANGE_SERVER, USER_LINE),                         # a server counts as an Exchange user
    (("Partners",), ANONYMOUS, ""),                                           # before its domain is secured
    (("Partners",), PARTNER, PARTNER_LINE),
    (("AnonymousUsers", "Partners"), PARTNER, PARTNER_LINE),                  # a secured partner isn't anonymous
    ((), ANONYMOUS, ""),                                                      # Custom with None: accepts nothing
    (("Custom",), MAILBOX_USER, ""),
])
def test_each_permission_group_grants_exchanges_rights_to_its_principals(groups, principal, expected):
    assert format_rights(session_rights(connector(groups=groups), principal)) == expected


# --- Add-ADPermission entries -----------------------------------------------------------------------------

ANON, USERS = "nt authority\\anonymous logon", "nt authority\\authenticated users"
SECURED, PARTNERS = "ms exchange\\externally secured servers", "ms exchange\\partner servers"
HUBS, LEGACY = "ms exchange\\hub transport servers", "ms exchange\\legacy exchange servers"
RELAY, SUBMIT_RIGHT = "ms-Exch-SMTP-Accept-Any-Recipient", "ms-Exch-SMTP-Submit"
ALLOW, DENY = False, True


def with_entries(groups, entries, mechanisms=("Tls",)):
    return replace(connector(groups=groups), permissions=tuple(entries), auth_mechanism=frozenset(mechanisms))


@pytest.mark.parametrize("groups, entries, principal, user, expected", [
    # The relay guides' anonymous relay connector: AnonymousUsers plus Accept-Any-Recipient for ANONYMOUS LOGON.
    (("AnonymousUsers",), [(ANON, RELAY, ALLOW)], ANONYMOUS, "",
     "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders"),
    (("AnonymousUsers",), [(ANON, RELAY, ALLOW), (ANON, RELAY, DENY)], ANONYMOUS, "", ANONYMOUS_LINE),  # Deny wins
    # A Deny takes away what a permission group grants (the guides' anti-spoofing step).
    (("AnonymousUsers",), [(ANON, "ms-Exch-SMTP-Accept-Authoritative-Domain-Sender", DENY)], ANONYMOUS, "",
     "SMTPSubmit SMTPAcceptAnySender AcceptRoutingHeaders"),
    ((), [(ANON, SUBMIT_RIGHT, ALLOW), (ANON, RELAY, ALLOW)], ANONYMOUS, "", "SMTPSubmit SMTPAcceptAnyRecipient"),
    ((), [(ANON, SUBMIT_RIGHT, ALLOW)], MAILBOX_USER, "kim@contoso.com", ""),     # authenticated: not anonymous
    ((), [("kim@contoso.com", RELAY, ALLOW)], MAILBOX_USER, "kim@contoso.com", "SMTPAcceptAnyRecipient"),
    ((), [("kim@contoso.com", RELAY, ALLOW)], MAILBOX_USER, "bob@contoso.com", ""),   # another mailbox user
    ((), [("kim@contoso.com", RELAY, ALLOW)], ANONYMOUS, "", ""),
    (("ExchangeUsers",), [("kim@contoso.com", "ms-Exch-Bypass-Anti-Spam", DENY)], MAILBOX_USER, "kim@contoso.com",
     "SMTPSubmit SMTPAcceptAnyRecipient AcceptRoutingHeaders"),
    ((), [(USERS, SUBMIT_RIGHT, ALLOW)], MAILBOX_USER, "bob@contoso.com", "SMTPSubmit"),
    ((), [(USERS, SUBMIT_RIGHT, ALLOW)], EXCHANGE_SERVER, "", "SMTPSubmit"),     # a server authenticates too
    ((), [(USERS, SUBMIT_RIGHT, ALLOW)], ANONYMOUS, "", ""),
    ((), [(HUBS, "ms-Exch-Accept-Headers-Organization", ALLOW)], EXCHANGE_SERVER, "", "AcceptOrganizationHeaders"),
    ((), [(LEGACY, "ms-Exch-Accept-Headers-Forest", ALLOW)], EXCHANGE_SERVER, "", "AcceptForestHeaders"),
    ((), [(SECURED, SUBMIT_RIGHT, ALLOW)], EXCHANGE_SERVER, "", ""),              # not ExternalAuthoritative
    (("Partners",), [(PARTNERS, "ms-Exch-SMTP-Accept-Any-Sender", ALLOW)], PARTNER, "",
     "SMTPSubmit SMTPAcceptAnySender AcceptRoutingHeaders"),
    (("Partners",), [(PARTNERS, SUBMIT_RIGHT, DENY)], PARTNER, "", "AcceptRoutingHeaders"),
    ((), [(PARTNERS, SUBMIT_RIGHT, ALLOW)], ANONYMOUS, "", ""),                  # before its domain is secured
])
def test_entries_add_their_allowed_rights_to_the_groups_and_deny_entries_take_theirs_away(
        groups, entries, principal, user, expected):
    assert format_rights(session_rights(with_entries(groups, entries), principal, user)) == expected


def test_on_an_externally_secured_connector_the_server_is_externally_secured_and_no_organization_server():
    secured = with_entries(("ExchangeServers",), [(SECURED, RELAY, DENY)], mechanisms=("ExternalAuthoritative",))
    assert format_rights(session_rights(secured, EXCHANGE_SERVER)) == SERVER_LINE.replace(" SMTPAcceptAnyRecipient", "")
    hubs_only = with_entries(("ExchangeServers",), [(HUBS, RELAY, DENY)], mechanisms=("ExternalAuthoritative",))
    assert format_rights(session_rights(hubs_only, EXCHANGE_SERVER)) == SERVER_LINE


@pytest.mark.parametrize("groups, entries, useful", [
    (("ExchangeUsers",), [], True),
    (("AnonymousUsers",), [], False),                       # AUTH would lead to a session that can't submit
    ((), [("kim@contoso.com", SUBMIT_RIGHT, ALLOW)], True),
    ((), [(USERS, SUBMIT_RIGHT, ALLOW)], True),
    ((), [(ANON, SUBMIT_RIGHT, ALLOW)], False),
    ((), [(PARTNERS, SUBMIT_RIGHT, ALLOW)], False),
    ((), [("kim@contoso.com", SUBMIT_RIGHT, DENY)], False),
    (("ExchangeUsers",), [(USERS, SUBMIT_RIGHT, DENY)], False),
])
def test_auth_is_worth_taking_when_some_authenticated_user_may_submit(groups, entries, useful):
    assert authentication_useful(with_entries(groups, entries)) is useful


@pytest.mark.parametrize("group, principals, line", [
    ("AnonymousUsers", ["NT AUTHORITY\\ANONYMOUS LOGON"], ANONYMOUS_LINE),
    ("ExchangeUsers", ["NT AUTHORITY\\Authenticated Users"], USER_LINE),
    ("ExchangeServers", ["MS Exchange\\Hub Transport Servers", "MS Exchange\\Edge Transport Servers",
                         "MS Exchange\\Externally Secured Servers"], SERVER_LINE),
    ("ExchangeLegacyServers", ["MS Exchange\\Legacy Exchange Servers"], LEGACY_SERVER_LINE),
    ("Partners", ["MS Exchange\\Partner Servers"], PARTNER_LINE),
    ("Custom", [], ""),
])
def test_get_adpermission_lists_each_groups_rights_for_each_of_its_principals(group, principals, line):
    grants = group_grants({group})
    assert sorted({principal for _, principal, _ in grants}) == sorted(principals)
    for principal in principals:
        rights = {EXTENDED_RIGHTS[right] for _, who, right in grants if who == principal}
        assert format_rights(rights) == line


def test_every_extended_right_grants_one_permission_of_the_protocol_log():
    assert sorted(EXTENDED_RIGHTS.values()) == sorted(PERMISSION_ORDER)


# --- connector selection ---------------------------------------------------------------------------------

# docs/exchange-behaviour.md's three connectors on one binding.
INTERNET = connector("Internet")
BRANCH = connector("Branch", ranges=("10.1.0.0/16",))
PRINTER = connector("Printer", ranges=("10.1.0.75",))
BOUND_PRINTER = connector("Printer", bindings=("10.0.0.5:25",), ranges=("10.1.0.75",))
BOUND_BRANCH = connector("Branch", bindings=("10.0.0.5:25",), ranges=("10.1.0.0/16",))


@pytest.mark.parametrize("connectors, local, port, remote, expected", [
    ([INTERNET, BRANCH, PRINTER], "10.0.0.5", 25, "10.1.0.75", "Printer"),   # the smallest range that holds it
    ([PRINTER, BRANCH, INTERNET], "10.0.0.5", 25, "10.1.0.75", "Printer"),   # whatever the order
    ([INTERNET, BRANCH, PRINTER], "10.0.0.5", 25, "10.1.9.9", "Branch"),
    ([INTERNET, BRANCH, PRINTER], "10.0.0.5", 25, "192.0.2.7", "Internet"),
    ([INTERNET, BRANCH, PRINTER], "10.0.0.5", 25, "::ffff:10.1.0.75", "Printer"),   # IPv4 client on a dual stack
    ([INTERNET, BRANCH, connector("Printer", ranges=("10.1.0.75",), enabled=False)],
     "10.0.0.5", 25, "10.1.0.75", "Branch"),                                 # a disabled connector takes nobody
    ([BRANCH, PRINTER], "10.0.0.5", 25, "192.0.2.7", None),                  # no range holds the client: 421
    ([INTERNET], "10.0.0.5", 587, "192.0.2.7", None),                        # nothing listens on the port
    ([connector("Bound", bindings=("10.0.0.5:25",))], "10.0.0.5", 25, "192.0.2.7", "Bound"),
    ([connector("Bound", bindings=("10.0.0.5:25",))], "10.0.0.6", 25, "192.0.2.7", None),   # another address
    ([connector("Bound", bindings=("10.0.0.5:25",))], "::ffff:10.0.0.5", 25, "192.0.2.7", "Bound"),
    ([BOUND_PRINTER, INTERNET], "10.0.0.5", 25, "10.1.0.75", "Printer"),
    ([BOUND_PRINTER, INTERNET], "10.0.0.6", 25, "10.1.0.75", "Internet"),   # 0.0.0.0 listens on every address
    ([BOUND_BRANCH, PRINTER], "10.0.0.5", 25, "10.1.0.75", "Printer"),       # the range decides, not the binding
    ([connector("V6", bindings=("[::]:25",), ranges=("2001:db8::/32",))], "2001:db8::1", 25, "2001:db8::9", "V6"),
])
def test_a_client_gets_the_connector_whose_remote_ip_ranges_hold_it_most_specifically(
        connectors, local, port, remote, expected):
    chosen = select_connector(connectors, local, port, remote)
    assert (chosen.name if chosen else None) == expected


# --- accepted domains and envelope paths -----------------------------------------------------------------

ACCEPTED_DOMAINS = (("contoso.com", "Authoritative"), ("*.contoso.com", "InternalRelay"),
                    ("*.eu.contoso.com", "ExternalRelay"), ("sales.contoso.com", "ExternalRelay"),
                    ("relay.example", "ExternalRelay"))


@pytest.mark.parametrize("domain, expected", [
    ("contoso.com", ("contoso.com", "Authoritative")),          # the exact name beats the wildcard over it
    ("CONTOSO.COM", ("contoso.com", "Authoritative")),
    ("mail.contoso.com", ("*.contoso.com", "InternalRelay")),
    ("sales.contoso.com", ("sales.contoso.com", "ExternalRelay")),
    ("a.sales.contoso.com", ("*.contoso.com", "InternalRelay")),  # a plain name covers no subdomain
    ("paris.eu.contoso.com", ("*.eu.contoso.com", "ExternalRelay")),   # the longer wildcard
    ("relay.example", ("relay.example", "ExternalRelay")),
    ("fabrikam.com", None),
    ("notcontoso.com", None),                                    # '*.contoso.com' is no plain suffix
])
def test_an_address_falls_in_its_most_specific_accepted_domain(domain, expected):
    assert accepted_domain_of(ACCEPTED_DOMAINS, domain) == expected


POSTMASTER = "postmaster@contoso.com"


@pytest.mark.parametrize("text, options, expected", [
    ("<b@contoso.com>", {}, ("b@contoso.com", [], False)),
    ("<b@contoso.com> SIZE=100 BODY=8BITMIME", {}, ("b@contoso.com", ["SIZE=100", "BODY=8BITMIME"], False)),
    ("b@contoso.com", {}, ("b@contoso.com", [], False)),             # without the angle brackets
    ("<b@[10.0.0.5]>", {}, ("b@[10.0.0.5]", [], False)),             # an address literal
    ("<b@[IPv6:2001:db8::1]>", {}, ("b@[IPv6:2001:db8::1]", [], False)),
    ("<>", {"allow_null": True}, ("", [], False)),                  # the null sender of MAIL FROM
    ("<postmaster>", {"postmaster": POSTMASTER}, (POSTMASTER, [], False)),   # RCPT TO: RFC 5321 4.5.1
    ("<PostMaster>", {"postmaster": POSTMASTER}, (POSTMASTER, [], False)),
    # the old relay tricks: taken apart as written, and marked
    ("<x%example.net@contoso.com>", {}, ("x%example.net@contoso.com", [], True)),
    ("<example.net!x@contoso.com>", {}, ("example.net!x@contoso.com", [], True)),
    ("<@relay.example,@contoso.com:x@example.net>", {}, ("x@example.net", [], True)),
    ("<@example.net:x@contoso.com>", {}, ("x@contoso.com", [], True)),
    ('<"x@example.net"@contoso.com>', {}, ('"x@example.net"@contoso.com', [], True)),
    ('<"john smith"@contoso.com>', {}, ('"john smith"@contoso.com', [], True)),
])
def test_an_envelope_path_is_read_with_its_relay_tricks_marked(text, options, expected):
    assert parse_path(text, **options) == expected


@pytest.mark.parametrize("text, options, reply", [
    ("<>", {}, "501 5.1.3 Invalid address"),                         # no null recipient
    ("<b@contoso.com", {}, "501 5.1.7 Invalid address"),
    ("<b>", {}, "501 5.1.7 Invalid address"),
    ("<postmaster>", {}, "501 5.1.7 Invalid address"),                 # MAIL FROM has no bare postmaster
    ("<@contoso.com>", {}, "501 5.1.7 Invalid address"),              # a source route with no mailbox
    ("<@relay.example:x>", {}, "501 5.1.7 Invalid address"),
    ("<b c@contoso.com>", {}, "501 5.1.7 Invalid address"),
    ("<b..c@contoso.com>", {}, "501 5.1.7 Invalid address"),
    ("<b@-contoso-.com>", {}, "501 5.1.7 Invalid address"),
    ("<b@[10.0.0.999]>", {}, "501 5.1.7 Invalid address"),
])
def test_a_path_the_server_cannot_read_is_refused_with_exchanges_reply(text, options, reply):
    with pytest.raises(AddressError) as refused:
        parse_path(text, **options)
    assert refused.value.reply == reply


# --- RCPT TO: relay --------------------------------------------------------------------------------------

ACCEPTED = "250 2.1.5 Recipient OK"


def rights(groups, principal):
    return session_rights(connector(groups=groups), principal)


def rcpt(granted, recipient):
    """What RCPT TO:<recipient> gets, as far as relay goes, from a session with the `granted` rights."""
    address, _, tricks = parse_path(f"<{recipient}>", postmaster=POSTMASTER)
    return ACCEPTED if recipient_accepted(granted, ACCEPTED_DOMAINS, address, tricks) else UNABLE_TO_RELAY


# The rights of a session on the Internet, Client, Internal and Partner connectors, by who the client is.
SESSIONS = {"anonymous": rights(("AnonymousUsers",), ANONYMOUS),
            "mailbox user": rights(("ExchangeUsers",), MAILBOX_USER),
            "Exchange server": rights(("ExchangeServers",), EXCHANGE_SERVER),
            "partner": rights(("Partners",), PARTNER)}


@pytest.mark.parametrize("session, recipient, expected", [
    ("anonymous", "b@contoso.com", ACCEPTED),                     # every accepted domain, whatever its type
    ("anonymous", "b@mail.contoso.com", ACCEPTED),
    ("anonymous", "b@Relay.Example", ACCEPTED),
    ("anonymous", "postmaster", ACCEPTED),
    ("anonymous", "x@example.net", UNABLE_TO_RELAY),
    ("anonymous", "x@notcontoso.com", UNABLE_TO_RELAY),
    ("anonymous", "x%example.net@contoso.com", UNABLE_TO_RELAY),  # tricks, even to an accepted domain
    ("anonymous", "example.net!x@contoso.com", UNABLE_TO_RELAY),
    ("anonymous", "@example.net:x@contoso.com", UNABLE_TO_RELAY),
    ("anonymous", "@contoso.com:x@example.net", UNABLE_TO_RELAY),
    ("anonymous", '"x@example.net"@contoso.com', UNABLE_TO_RELAY),
    ("partner", "b@contoso.com", ACCEPTED),
    ("partner", "x@example.net", UNABLE_TO_RELAY),
    ("mailbox user", "x@example.net", ACCEPTED),                  # SMTPAcceptAnyRecipient relays
    ("mailbox user", "x%example.net@contoso.com", ACCEPTED),
    ("Exchange server", "x@example.net", ACCEPTED),
])
def test_only_sessions_with_accept_any_recipient_may_relay(session, recipient, expected):
    assert rcpt(SESSIONS[session], recipient) == expected


# --- MAIL FROM: who may send as whom ---------------------------------------------------------------------

SENDER_OK = "250 2.1.0 Sender OK"
FABRIKAM = {"subject": ((("commonName", "mail.fabrikam.com"),),),
            "subjectAltName": (("DNS", "fabrikam.com"), ("DNS", "*.mail.fabrikam.com"))}


def mail_from(granted, sender, auth_user="", partner=False, certificate=None):
    """What MAIL FROM:<sender> gets, as far as sending as the sender goes."""
    allowed = sender_allowed(granted, ACCEPTED_DOMAINS, sender, auth_user, partner=partner,
                             partner_certificate=certificate)
    return SENDER_OK if allowed else SEND_AS_DENIED


@pytest.mark.parametrize("session, sender, auth_user, expected", [
    ("anonymous", "", "", SENDER_OK),                                             # the null sender
    ("anonymous", "a@example.com", "", SENDER_OK),
    ("anonymous", "ceo@contoso.com", "", SENDER_OK),                              # SMTPAcceptAuthoritativeDomainSender
    ("mailbox user", "alice@contoso.com", "alice@contoso.com", SENDER_OK),        # its own address
    ("mailbox user", "Alice@Contoso.COM", "alice@contoso.com", SENDER_OK),
    ("mailbox user", "bob@contoso.com", "alice@contoso.com", SEND_AS_DENIED),     # another authoritative sender
    ("mailbox user", "a@example.com", "alice@contoso.com", SEND_AS_DENIED),       # no SMTPAcceptAnySender
    ("mailbox user", "a@mail.contoso.com", "alice@contoso.com", SEND_AS_DENIED),  # InternalRelay isn't authoritative
    ("mailbox user", "", "alice@contoso.com", SENDER_OK),
    ("Exchange server", "ceo@contoso.com", "", SENDER_OK),
    ("Exchange server", "a@example.com", "", SENDER_OK),
])
def test_a_sender_needs_the_right_to_send_as_its_domain(session, sender, auth_user, expected):
    assert mail_from(SESSIONS[session], sender, auth_user) == expected


@pytest.mark.parametrize("sender, certificate, expected", [
    ("a@fabrikam.com", FABRIKAM, SENDER_OK),                          # a domain its certificate names
    ("a@FABRIKAM.com", FABRIKAM, SENDER_OK),
    ("a@x.mail.fabrikam.com", FABRIKAM, SENDER_OK),                   # a wildcard names one level below
    ("a@mail.fabrikam.com", FABRIKAM, SEND_AS_DENIED),                # the SAN names, not the subject, count
    ("a@tailspin.com", FABRIKAM, SEND_AS_DENIED),
    ("a@fabrikam.com", None, SEND_AS_DENIED),
    ("ceo@contoso.com", {"subjectAltName": (("DNS", "contoso.com"),)}, SEND_AS_DENIED),   # authoritative
    ("", None, SENDER_OK),
])
def test_a_domain_secured_partner_sends_only_from_the_domains_its_certificate_names(sender, certificate, expected):
    assert mail_from(SESSIONS["partner"], sender, partner=True, certificate=certificate) == expected


def test_a_certificate_restricts_no_session_but_a_partners():
    # SMTPAcceptAnySender decides for an anonymous session that presented a certificate for another domain.
    assert mail_from(SESSIONS["anonymous"], "a@tailspin.com", certificate=FABRIKAM) == SENDER_OK


# --- an Edge Transport server: InternalSMTPServers and recipient filtering ------------------------------------

INTERNAL_LINE = ("SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                 "AcceptRoutingHeaders")


def edge_snapshot(role="Edge", recipients=("alice@contoso.com",), internal=("10.0.0.5", "192.168.1.0/24"),
                  unfiltered=()):
    """What the receive policy reads of an Edge's snapshot; `recipients` None: EdgeSync hasn't brought them yet."""
    return SimpleNamespace(
        is_edge=role == "Edge", accepted_domains=ACCEPTED_DOMAINS, postmaster_address=POSTMASTER,
        recipient_hashes=None if recipients is None else frozenset(recipient_hash(r) for r in recipients),
        internal_smtp_servers=tuple(parse_ip_range(text) for text in internal),
        unfiltered_domains=frozenset(unfiltered))


@pytest.mark.parametrize("role, address, expected", [
    ("Edge", "10.0.0.5", True), ("Edge", "192.168.1.77", True), ("Edge", "10.0.0.6", False),
    ("Edge", "::ffff:10.0.0.5", True),                # an IPv4 client on a dual-stack listener
    ("HubTransport", "10.0.0.5", False),               # a Hub relays for its own connectors' permission groups only
])
def test_an_edge_knows_the_organizations_internal_smtp_servers(role, address, expected):
    assert is_internal_smtp_server(edge_snapshot(role), address) is expected


@pytest.mark.parametrize("groups, expected", [
    (("AnonymousUsers", "ExchangeServers", "Partners"), INTERNAL_LINE),   # the Default internal receive connector
    (("Partners",), "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender"),
])
def test_an_internal_smtp_server_relays_like_a_hub_without_organization_headers(groups, expected):
    granted = rights(groups, INTERNAL_SMTP_SERVER)
    assert format_rights(granted) == expected
    assert rcpt(granted, "bob@fabrikam.com") == ACCEPTED


def test_a_deny_for_anonymous_logon_applies_to_an_internal_smtp_server():
    denied = replace(connector(groups=("AnonymousUsers",)), permissions=((ANON, RELAY, DENY),))
    assert rcpt(session_rights(denied, INTERNAL_SMTP_SERVER), "bob@fabrikam.com") == UNABLE_TO_RELAY


@pytest.mark.parametrize("session, recipient, unknown", [
    ("anonymous", "nobody@contoso.com", True),          # Authoritative: only the organization's recipients
    ("anonymous", "Alice@CONTOSO.com", False),
    ("anonymous", "anyone@mail.contoso.com", False),    # InternalRelay: its recipients may live elsewhere
    ("anonymous", "anyone@relay.example", False),       # ExternalRelay
    ("anonymous", "Postmaster@contoso.com", False),     # every server takes mail for the postmaster
    ("partner", "nobody@contoso.com", True),            # a partner's mail is external mail too
    ("Exchange server", "nobody@contoso.com", False),   # the organization's own servers aren't filtered
    ("mailbox user", "nobody@contoso.com", False),
    ("internal", "nobody@contoso.com", False),
])
def test_an_edge_filters_the_recipients_of_external_mail(session, recipient, unknown):
    principals = {"anonymous": ANONYMOUS, "partner": PARTNER, "Exchange server": EXCHANGE_SERVER,
                  "mailbox user": MAILBOX_USER, "internal": INTERNAL_SMTP_SERVER}
    granted = SESSIONS.get(session) or rights(("AnonymousUsers",), INTERNAL_SMTP_SERVER)
    assert recipient_unknown(principals[session], granted, edge_snapshot(), recipient) is unknown


def test_an_authoritative_domain_with_address_book_enabled_off_isnt_filtered():
    granted = SESSIONS["anonymous"]
    assert recipient_unknown(ANONYMOUS, granted, edge_snapshot(unfiltered=("contoso.com",)),
                             "nobody@contoso.com") is False


def test_nothing_is_filtered_before_edgesync_brought_the_recipients():
    granted = SESSIONS["anonymous"]
    assert recipient_unknown(ANONYMOUS, granted, edge_snapshot(recipients=None), "nobody@contoso.com") is False


def test_a_session_granted_bypass_anti_spam_isnt_filtered():
    bypass = replace(connector(groups=("AnonymousUsers",)), permissions=((ANON, "ms-Exch-Bypass-Anti-Spam", ALLOW),))
    granted = session_rights(bypass, ANONYMOUS)
    assert recipient_unknown(ANONYMOUS, granted, edge_snapshot(), "nobody@contoso.com") is False
