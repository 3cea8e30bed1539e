"""One SMTP session on a receive connector: aiosmtpd's protocol, with Exchange 2010's dialogue and policy.

aiosmtpd provides the stream handling, STARTTLS switching and the AUTH challenge exchange; the command
loop and the commands are Exchange's: the connector is chosen per connection by the client's address, the
reply texts and enhanced status codes are Exchange's, and every refusal follows the connector's settings.
"""
import asyncio
import binascii
import functools
import logging
import re
import time
from base64 import b64decode, b64encode
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from aiosmtpd.smtp import SMTP
from asyncio import sslproto
from django.contrib.auth.hashers import check_password

from exchange_console.lib.timespans import format_timespan
from transport.logs.protocol import CONNECT, DISCONNECT, INFORMATION, RECEIVED, SENT, NoSessionLog, endpoint
from transport.receive import policy
from transport.receive.acceptance import (
    header_facts, received_header, split_headers, strip_header_fields,
)
from transport.receive.runtime import peer_fingerprint

log = logging.getLogger(__name__)

REFUSED_NO_CONNECTOR = "421 4.3.2 Service not available, closing transmission channel"
TOO_MANY_CONNECTIONS = ("421 4.3.2 The maximum number of concurrent server connections has exceeded a limit, "
                        "closing transmission channel")
TOO_MANY_FROM_SOURCE = ("421 4.3.2 The maximum number of concurrent connections has exceeded a limit, "
                        "closing transmission channel")
TOO_MANY_ERRORS = "421 4.7.0 Too many errors on this connection, closing transmission channel"
CONNECTION_TIMED_OUT = "421 4.4.1 Connection timed out. Total session time: {}"
INACTIVITY_TIMEOUT = "451 4.7.0 Timeout waiting for client input"
RATE_EXCEEDED = "421 4.4.2 Message submission rate for this client has exceeded the configured limit"
NOT_AUTHENTICATED = "530 5.7.1 Client was not authenticated"
STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
UNABLE_TO_RELAY = "550 5.7.1 Unable to relay"
SEND_AS_DENIED = "550 5.7.1 Client does not have permissions to send as this sender"
DOMAIN_SECURE_FAILED = "454 4.7.5 Certificate validation failure"
TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
HEADER_TOO_BIG = "552 5.3.4 Header size exceeds fixed maximum size"
_DROP_MARGIN = 1 << 20
# What the reader buffers before it pauses the socket: a whole message of usual size, so that reading one
# doesn't stop and restart the socket's reading several times (command lines are still limited to 1000).
READ_BUFFER = 64 * 1024
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
ENVELOPE_LIMIT = "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients"
HOP_COUNT_EXCEEDED = "554 5.4.6 Hop count exceeded - possible mail loop detected"
AUTH_FAILED = "535 5.7.3 Authentication unsuccessful"

_ENHANCED_CODE = re.compile(r"^(\d{3}[ -])\d\.\d{1,3}\.\d{1,3} ")
_COMMANDS = ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "STARTTLS", "AUTH", "HELP")
_DSN_MAIL_PARAMS, _DSN_RCPT_PARAMS = ("RET", "ENVID"), ("NOTIFY", "ORCPT")
_PROTECTED_HEADERS = ((policy.ACCEPT_ORGANIZATION_HEADERS, b"x-ms-exchange-organization-"),
                      (policy.ACCEPT_FOREST_HEADERS, b"x-ms-exchange-forest-"))
_AUTH_AS = {policy.ANONYMOUS: "Anonymous", policy.MAILBOX_USER: "Internal", policy.EXCHANGE_SERVER: "Internal",
            policy.PARTNER: "Partner"}


class ReceiveSession(SMTP):
    def __init__(self, service):
        self.service = service
        self.runtime = service.runtime         # fixed for the whole session: reloads apply to new sessions
        self._init_stream_state(service.loop, self.runtime.tls_context)
        self.connector = None
        self.session_log = NoSessionLog()
        self.helo = None
        self.principal, self.auth_user, self.rights = policy.ANONYMOUS, "", frozenset()
        self.partner_certificate = None
        self.protocol_errors = self.logon_failures = 0
        self.started = time.monotonic()
        self._reset_transaction()

    def _init_stream_state(self, loop, tls_context):
        """What aiosmtpd's connection and STARTTLS machinery needs. Its own __init__ would also build its
        command, hook and AUTH tables by introspection on every connection, which this session replaces."""
        self.loop, self.tls_context = loop, tls_context
        asyncio.StreamReaderProtocol.__init__(
            self, asyncio.StreamReader(loop=loop, limit=READ_BUFFER),
            client_connected_cb=self._cb_client_connected, loop=loop)
        self.event_handler, self._handle_hooks = None, {}
        self.enable_SMTPUTF8 = self._decode_data = False
        self._timeout_duration, self._timeout_handle = 300, None
        self._tls_handshake_okay, self._tls_protocol, self._original_transport = True, None, None
        self.session = self.envelope = self.transport = self._handler_coroutine = None

    # --- connection ------------------------------------------------------------------------------------

    def connection_made(self, transport):
        starting_tls = self._original_transport is not None
        super().connection_made(transport)
        if starting_tls:
            self._tls_established()
            return
        sockname, peername = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        self.local_ip, self.local_port = sockname[0], sockname[1]
        self.client_ip, self.client_port = peername[0], peername[1]
        self.connector = self.runtime.connector_for(self.local_ip, self.local_port, self.client_ip)
        if self.connector is None:
            return
        self._timeout_duration = self.connector.connection_inactivity_timeout.total_seconds()
        self._reset_timeout()
        if self.connector.verbose_logging:
            self.session_log = self.runtime.protocol_log.session(
                self.connector.identity, endpoint(self.local_ip, self.local_port),
                endpoint(self.client_ip, self.client_port))
        self.session_log.write(CONNECT)

    def connection_lost(self, error):
        if self._counted:
            self.service.connection_closed(self.connector, self.client_ip)
        if self.connector is not None:
            self.session_log.write(DISCONNECT, "", "Local" if self._closing_locally else "Remote")
        super().connection_lost(error)

    _closing_locally = _counted = False

    def _close(self):
        self._closing_locally = True
        if self.transport is not None:
            self.transport.close()

    def _reset_timeout(self, duration=None):
        """ConnectionInactivityTimeout starts again at every command: note the moment; the session's one timer
        looks at it when it fires (rather than a new timer for every command)."""
        self._last_activity = now = self.loop.time()
        delay = duration or self._timeout_duration
        if self._timeout_handle is None or self._timeout_handle.when() > now + delay:   # none yet, or too late
            if self._timeout_handle is not None:
                self._timeout_handle.cancel()
            self._timeout_handle = self.loop.call_later(delay, self._inactivity_check)

    def _inactivity_check(self):
        idle = self.loop.time() - self._last_activity
        if idle >= self._timeout_duration:
            self._timeout_cb()
        else:
            self._timeout_handle = self.loop.call_later(self._timeout_duration - idle, self._inactivity_check)

    def _timeout_cb(self):
        """ConnectionInactivityTimeout: tell the client, then close."""
        self._write_now(INACTIVITY_TIMEOUT)
        self._close()

    def _connection_timed_out(self):
        elapsed = timedelta(seconds=int(time.monotonic() - self.started))
        self._write_now(CONNECTION_TIMED_OUT.format(format_timespan(elapsed)))
        self._close()

    def _write_now(self, status):
        if self.transport is not None and not self.transport.is_closing():
            status = self._with_status_codes(status)
            self.session_log.write(SENT, status)
            self.transport.write(status.encode() + b"\r\n")

    # --- replies ---------------------------------------------------------------------------------------

    def _with_status_codes(self, status):
        if self.connector is not None and not self.connector.enhanced_status_codes_enabled:
            return _ENHANCED_CODE.sub(r"\1", status)
        return status

    async def push(self, status):
        status = self._with_status_codes(status if isinstance(status, str) else status.decode())
        self.session_log.write(SENT, status)
        await super().push(status)

    async def push_lines(self, code, lines):
        """A multi-line reply; the protocol log shows it as one line, as Exchange's does."""
        self.session_log.write(SENT, f"{code}  " + " ".join(lines))
        reply = [f"{code}-{line}" for line in lines[:-1]] + [f"{code} {lines[-1]}"]
        await super().push("\r\n".join(reply))   # one write for the whole reply

    async def refuse(self, status):
        """A 5xx refusal: unauthenticated clients wait TarpitInterval first (slows down harvesting)."""
        tarpit = self.connector.tarpit_interval.total_seconds()
        if status.startswith("5") and self.principal == policy.ANONYMOUS and tarpit > 0:
            await asyncio.sleep(tarpit)
        await self.push(status)

    async def protocol_error(self, status):
        """A syntax or sequence error; MaxProtocolErrors of them end the session."""
        self.protocol_errors += 1
        limit = self.connector.max_protocol_errors
        if limit is not None and self.protocol_errors > limit:
            await self.push(TOO_MANY_ERRORS)
            self._close()
            return
        await self.refuse(status)

    # --- the command loop ------------------------------------------------------------------------------

    async def _handle_client(self):
        if self.connector is None:
            await self.push(REFUSED_NO_CONNECTOR)
            self._close()
            return
        refusal = self.service.connection_opened(self.connector, self.client_ip)
        self._counted = refusal is None
        if refusal:
            await self.push(refusal)
            self._close()
            return
        self._set_principal(policy.EXCHANGE_SERVER if self._externally_secured() else policy.ANONYMOUS)
        deadline = self.loop.call_later(self.connector.connection_timeout.total_seconds(),
                                        self._connection_timed_out)
        try:
            await self.push(self._banner())
            while self.transport is not None and not self.transport.is_closing():
                line = await self._read_command_line()
                if line is None:
                    break
                await self._dispatch(line)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            deadline.cancel()

    async def _read_command_line(self):
        """The next command line (None once the client is gone); longer ones are refused and skipped whole."""
        while True:
            line = await self._read_line_chunk()
            if line is None or len(line) <= self.line_length_limit:
                return None if line is None else line.rstrip(b"\r\n")
            while not line.endswith(b"\n"):
                line = await self._read_line_chunk()
                if line is None:
                    return None
            await self.protocol_error("500 5.5.2 Line too long")

    async def _read_line_chunk(self):
        """Up to and including the next LF, or a buffer's worth of a longer line; None at the end of input."""
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as overrun:
            return await self._reader.read(overrun.consumed)
        except asyncio.IncompleteReadError:
            return None

    async def _dispatch(self, line):
        if not line:
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return await self.protocol_error("500 5.5.2 Invalid characters in command")
        command, _, arg = text.partition(" ")
        command = command.upper()
        self.session_log.write(RECEIVED, _loggable(command, text))
        if command not in _COMMANDS:
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        self._reset_timeout()
        await getattr(self, f"smtp_{command}")(arg.strip())

    def _banner(self):
        if self.connector.banner:
            return self.connector.banner
        return f"220 {self.connector.fqdn} Microsoft ESMTP MAIL Service ready at {_banner_time(int(time.time()))}"

    # --- who the client is -----------------------------------------------------------------------------

    def _externally_secured(self):
        mechanisms = self.connector.auth_mechanism
        return "ExternalAuthoritative" in mechanisms

    def _set_principal(self, principal, auth_user=""):
        self.principal, self.auth_user = principal, auth_user
        self.rights = policy.session_rights(self.connector, principal)
        self.session_log.write(INFORMATION, policy.format_rights(self.rights), "Set Session Permissions")

    @property
    def tls_active(self):
        return self._tls_protocol is not None

    def _tls_established(self):
        """RFC 3207: forget what was said before STARTTLS; recognize the organization's own servers."""
        self.helo = None
        self._reset_transaction()
        ssl_object = self.transport.get_extra_info("ssl_object")
        self.session_log.write(INFORMATION, "", "TLS negotiation succeeded")
        fingerprint = peer_fingerprint(ssl_object)
        if fingerprint is None:
            return
        if ("ExchangeServer" in self.connector.auth_mechanism
                and fingerprint in self.runtime.organization_fingerprints):
            self.session_log.write(INFORMATION, "", "ExchangeServer authenticated by certificate")
            self._set_principal(policy.EXCHANGE_SERVER)
        else:
            self.partner_certificate = ssl_object.getpeercert()

    # --- commands --------------------------------------------------------------------------------------

    async def smtp_HELO(self, arg):
        if not arg or (self.connector.require_ehlo_domain and not _is_ehlo_domain(arg)):
            return await self.protocol_error("501 5.5.4 Invalid domain name")
        self.helo = arg
        self._reset_transaction()
        await self.push(f"250 {self.connector.fqdn} Hello [{self.client_ip}]")

    async def smtp_EHLO(self, arg):
        if not arg or (self.connector.require_ehlo_domain and not _is_ehlo_domain(arg)):
            return await self.protocol_error("501 5.5.4 Invalid domain name")
        self.helo = arg
        self.session.extended_smtp = True
        self._reset_transaction()
        await self.push_lines("250", [f"{self.connector.fqdn} Hello [{self.client_ip}]", *self._extensions()])

    def _extensions(self):
        connector = self.connector
        extensions = []
        if connector.size_enabled == "Enabled":
            extensions.append(f"SIZE {connector.max_message_size}")
        elif connector.size_enabled == "EnabledWithoutValue":
            extensions.append("SIZE")
        if connector.pipelining_enabled:
            extensions.append("PIPELINING")
        if connector.delivery_status_notification_enabled:
            extensions.append("DSN")
        if connector.enhanced_status_codes_enabled:
            extensions.append("ENHANCEDSTATUSCODES")
        if "Tls" in connector.auth_mechanism and not self.tls_active:
            extensions.append("STARTTLS")
        if self._basic_auth_offered():
            extensions.append("AUTH PLAIN LOGIN")
        if connector.eight_bit_mime_enabled:
            extensions.append("8BITMIME")
        return extensions

    def _basic_auth_offered(self):
        mechanisms = self.connector.auth_mechanism
        if "BasicAuth" not in mechanisms or self.principal != policy.ANONYMOUS:
            return False
        return self.tls_active or "BasicAuthRequireTLS" not in mechanisms

    async def smtp_NOOP(self, arg):
        await self.push("250 2.0.0 OK")

    async def smtp_HELP(self, arg):
        await self.push("214-This server supports the following commands:")
        await self.push("214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH")

    async def smtp_VRFY(self, arg):
        await self.push("252 2.1.5 Cannot VRFY user")

    async def smtp_RSET(self, arg):
        self._reset_transaction()
        await self.push("250 2.0.0 Resetting")

    async def smtp_QUIT(self, arg):
        await self.push("221 2.0.0 Service closing transmission channel")
        self._close()

    async def smtp_STARTTLS(self, arg):
        if "Tls" not in self.connector.auth_mechanism or self.tls_active:
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        if arg:
            return await self.protocol_error("501 5.5.4 Invalid arguments")
        await self.push("220 2.0.0 SMTP server ready")
        for data, context in self.runtime.certificate_facts:
            self.session_log.write(INFORMATION, data, context)
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(self.loop, self, self.tls_context, waiter, server_side=True)
        self._original_transport = self.transport
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        try:
            await waiter
        except Exception as error:  # a failed handshake ends the session, as in Exchange
            self.session_log.write(INFORMATION, str(error)[:200], "TLS negotiation failed")
            self._close()

    async def smtp_AUTH(self, arg):
        if self.helo is None or not self.session.extended_smtp:
            return await self.protocol_error("503 5.5.2 Send hello first")
        if self.principal != policy.ANONYMOUS:
            return await self.protocol_error("503 5.5.2 Already authenticated")
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() not in ("PLAIN", "LOGIN") or not self._basic_auth_offered():
            return await self.refuse("504 5.7.4 Unrecognized authentication type")
        if policy.SUBMIT not in policy.session_rights(self.connector, policy.MAILBOX_USER):
            return await self.refuse("535 5.7.3 Authentication unsuccessful")
        credentials = await self._read_credentials(mechanism.upper(), initial.strip())
        if credentials is None:
            return
        user = await self.loop.run_in_executor(None, _check_credentials, self.runtime.snapshot, *credentials)
        if user is None:
            return await self._logon_failed()
        self.session_log.write(INFORMATION, user, "authenticated")
        self._set_principal(policy.MAILBOX_USER, user)
        await self.push("235 2.7.0 Authentication successful")

    async def _read_credentials(self, mechanism, initial):
        """(login, password) from the AUTH exchange; None after a reply was already sent. Never logged."""
        if mechanism == "PLAIN":
            blob = _b64(initial) if initial else await self._challenge("")
            parts = blob.split(b"\x00") if blob is not None else []
            if len(parts) != 3:
                await self.protocol_error("501 5.5.2 Cannot decode response")
                return None
            return parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
        login = _b64(initial) if initial else await self._challenge("Username:")
        password = await self._challenge("Password:") if login is not None else None
        if login is None or password is None:
            await self.protocol_error("501 5.5.2 Cannot decode response")
            return None
        return login.decode("utf-8", "replace"), password.decode("utf-8", "replace")

    async def _challenge(self, prompt):
        await self.push(f"334 {b64encode(prompt.encode()).decode()}")
        line = (await self._reader.readuntil(b"\n")).strip()
        self.session_log.write(RECEIVED, "****")
        return None if line == b"*" else _b64(line.decode("ascii", "replace"))

    async def _logon_failed(self):
        self.logon_failures += 1
        self.session_log.write(INFORMATION, "", "Inbound authentication failed")
        limit = self.connector.max_logon_failures   # 0: never disconnect for failed logons
        if limit and self.logon_failures >= limit:
            await self.push(AUTH_FAILED)
            await self.push(TOO_MANY_ERRORS)
            self._close()
            return
        await self.refuse(AUTH_FAILED)

    async def smtp_MAIL(self, arg):
        if self.helo is None:
            return await self.protocol_error("503 5.5.2 Send hello first")
        if self.mail_from is not None:
            return await self.protocol_error("503 5.5.2 Sender already specified")
        if not arg.upper().startswith("FROM:"):
            return await self.protocol_error("501 5.5.4 Invalid arguments")
        if self.connector.require_tls and not self.tls_active:
            return await self.refuse(STARTTLS_FIRST)
        try:
            address, params, _ = policy.parse_path(arg[5:], allow_null=True)
        except policy.AddressError as error:
            return await self.protocol_error(error.reply)
        if address and self._domain_secure_required(policy.domain_of(address)):
            if not self._domain_secured(policy.domain_of(address)):
                return await self.refuse(DOMAIN_SECURE_FAILED)
        if policy.SUBMIT not in self.rights:
            return await self.refuse(NOT_AUTHENTICATED)
        options, refusal = self._mail_parameters(params)
        if refusal:
            return await self.refuse(refusal)
        refusal = self._sender_refusal(address)
        if refusal:
            return await self.refuse(refusal)
        if not self.service.record_message(self.connector, self.client_ip, self.auth_user):
            await self.push(RATE_EXCEEDED)
            return self._close()
        self.mail_from, self.mail_options = address, options
        await self.push("250 2.1.0 Sender OK")

    def _mail_parameters(self, params):
        """(kept options, refusal) for SIZE, BODY and the DSN parameters."""
        options = []
        for param in params:
            name, _, value = param.partition("=")
            name = name.upper()
            if name == "SIZE" and value.isdigit():
                if int(value) > self._size_limit():
                    return [], TOO_BIG
            elif name == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                if value.upper() == "8BITMIME" and not self.connector.eight_bit_mime_enabled:
                    return [], "555 5.5.4 Unsupported option: BODY"
                options.append(f"BODY={value.upper()}")
            elif name in _DSN_MAIL_PARAMS and value and self.connector.delivery_status_notification_enabled:
                options.append(f"{name}={value}")
            else:
                return [], f"555 5.5.4 Unsupported option: {name}"
        return options, None

    def _size_limit(self):
        """MaxMessageSize of the connector and the organization's MaxReceiveSize, unless bypassed."""
        if policy.BYPASS_MESSAGE_SIZE_LIMIT in self.rights:
            return float("inf")
        limits = [self.connector.max_message_size, self.runtime.snapshot.max_receive_size]
        return min(limit for limit in limits if limit is not None)

    def _sender_refusal(self, address):
        if not address:
            return None
        domain = policy.domain_of(address)
        if self.auth_user and address.lower() == self.auth_user:
            return None
        if policy.is_authoritative(self.runtime.snapshot.accepted_domains, domain):
            allowed = policy.ACCEPT_AUTHORITATIVE_DOMAIN_SENDER in self.rights
        elif self.principal == policy.PARTNER:
            allowed = policy.certificate_matches_domain(self.partner_certificate, domain)
        else:
            allowed = policy.ACCEPT_ANY_SENDER in self.rights
        return None if allowed else SEND_AS_DENIED

    def _domain_secured(self, domain):
        """Mutual TLS: the client's verified certificate names the sender's domain; the session becomes a
        partner's."""
        if not (self.tls_active and policy.certificate_matches_domain(self.partner_certificate, domain)):
            return False
        if self.principal != policy.PARTNER:
            self.session_log.write(INFORMATION, domain, "Domain secure")
            self._set_principal(policy.PARTNER)
        return True

    def _domain_secure_required(self, domain):
        return (self.connector.domain_secure_enabled and "Tls" in self.connector.auth_mechanism
                and domain in self.runtime.snapshot.tls_receive_domain_secure_list
                and self.principal in (policy.ANONYMOUS, policy.PARTNER))

    async def smtp_RCPT(self, arg):
        if self.mail_from is None:
            return await self.protocol_error("503 5.5.2 Need mail command")
        if not arg.upper().startswith("TO:"):
            return await self.protocol_error("501 5.5.4 Invalid arguments")
        try:
            address, params, tricks = policy.parse_path(arg[3:])
        except policy.AddressError as error:
            return await self.protocol_error(error.reply)
        options = [param for param in params if param.partition("=")[0].upper() in _DSN_RCPT_PARAMS]
        if len(options) != len(params) or (options and not self.connector.delivery_status_notification_enabled):
            return await self.refuse("555 5.5.4 Unsupported option")
        if not self._may_send_to(address, tricks):
            return await self.refuse(UNABLE_TO_RELAY)
        if len(self.rcpt_tos) >= self.connector.max_recipients_per_message:
            return await self.push(TOO_MANY_RECIPIENTS)
        envelope_limit = self.runtime.snapshot.max_recipient_envelope_limit
        if envelope_limit is not None and len(self.rcpt_tos) >= envelope_limit:
            return await self.refuse(ENVELOPE_LIMIT)
        self.rcpt_tos.append(address)
        self.rcpt_options.append(tuple(options))
        await self.push("250 2.1.5 Recipient OK")

    def _may_send_to(self, address, tricks):
        """Accepted domains take mail from anyone with Submit; anything else is relay."""
        if policy.ACCEPT_ANY_RECIPIENT in self.rights:
            return True
        in_accepted_domain = policy.accepted_domain_of(self.runtime.snapshot.accepted_domains,
                                                       policy.domain_of(address)) is not None
        return in_accepted_domain and not tricks

    async def smtp_DATA(self, arg):
        if self.mail_from is None:
            return await self.protocol_error("503 5.5.2 Need mail command")
        if not self.rcpt_tos:
            return await self.protocol_error("503 5.5.2 Need rcpt command")
        await self.push("354 Start mail input; end with <CRLF>.<CRLF>")
        content, problem = await self._read_content()
        if problem:
            self._reset_transaction()
            return await self.refuse(problem)
        headers, _ = split_headers(content)
        facts = header_facts(headers, self.runtime.snapshot.organization_hosts)
        local_limit = self.connector.max_local_hop_count   # 0: local hops aren't counted
        if (facts["received_count"] >= self.connector.max_hop_count
                or (local_limit and facts["local_received_count"] >= local_limit)):
            self._reset_transaction()
            return await self.refuse(HOP_COUNT_EXCEEDED)
        envelope = await self._accept(self._header_firewall(content), facts)
        self._reset_transaction()
        self.session_log.write(INFORMATION, envelope.header_message_id, "receiving message")
        await self.push(f"250 2.6.0 {envelope.header_message_id} [InternalId={envelope.message_id}] "
                        "Queued mail for delivery")

    async def _read_content(self):
        """The message, dot-unstuffed; (content, None) or (None, refusal) once the final dot arrived.

        Read in chunks, each up to the next '.' CRLF (a line ending in a dot, or the final dot line), rather
        than line by line; the limits are checked on the whole. Far past the size limit, the data is dropped
        as it comes and only the end is watched for."""
        size_limit, header_limit = self._size_limit(), self.connector.max_header_size
        data, dropped = bytearray(), False
        while not (data.endswith(b"\n.\r\n") or (data == b".\r\n" and not dropped)):
            try:
                data += await self._reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as overrun:
                data += await self._reader.read(overrun.consumed)
            if len(data) > 2 * size_limit + _DROP_MARGIN:   # dot-stuffing never doubles the size
                del data[:-len(b"\n.\r\n")]
                dropped = True
        if dropped:
            return None, TOO_BIG
        content = bytes(data[:-len(b".\r\n")])
        content = (content[1:] if content.startswith(b".") else content).replace(b"\n.", b"\n")
        if _header_size(content) > header_limit:
            return None, HEADER_TOO_BIG
        if len(content) > size_limit:
            return None, TOO_BIG
        return content, None

    def _header_firewall(self, content):
        """Organization and forest headers survive only from senders with the right to set them."""
        untrusted = tuple(prefix for right, prefix in _PROTECTED_HEADERS if right not in self.rights)
        return strip_header_fields(content, untrusted) if untrusted else content

    async def _accept(self, content, facts):
        moment = datetime.now(timezone.utc)
        received = received_header(self.helo, self.client_ip, self.connector.fqdn, self.local_ip,
                                   self.tls_active, moment)
        received += (f"X-MS-Exchange-Organization-AuthSource: {self.connector.fqdn}\r\n"
                     f"X-MS-Exchange-Organization-AuthAs: {_AUTH_AS[self.principal]}\r\n").encode()
        envelope_fields = dict(
            mail_from=self.mail_from, rcpt_tos=tuple(self.rcpt_tos), received_connector=self.connector.identity,
            client_ip=self.client_ip, client_hostname=self.helo, auth_user=self.auth_user,
            arrival_time=moment, mail_options=tuple(self.mail_options), rcpt_options=tuple(self.rcpt_options),
        )
        return await self.service.acceptance.accept(
            self.runtime, content=content, facts=facts, envelope_fields=envelope_fields, server_ip=self.local_ip,
            received=received, fqdn=self.connector.fqdn)

    def _reset_transaction(self):
        self.mail_from, self.mail_options, self.rcpt_tos, self.rcpt_options = None, [], [], []


@functools.lru_cache(maxsize=2)
def _banner_time(second):
    """The banner's date (RFC 5322, local time), formatted once a second rather than once a session."""
    return format_datetime(datetime.fromtimestamp(second, timezone.utc).astimezone())


def _header_size(content):
    """Bytes of the header block, the blank line that ends it included (the whole message if none does)."""
    if content.startswith((b"\r\n", b"\n")):
        return content.index(b"\n") + 1
    ends = [index + len(blank) for blank in (b"\n\r\n", b"\n\n") if (index := content.find(blank)) != -1]
    return min(ends) if ends else len(content)


def _loggable(command, text):
    """The received command as the protocol log shows it: AUTH without its credentials."""
    return f"AUTH {text.split()[1]}" if command == "AUTH" and len(text.split()) > 1 else text


def _b64(text):
    try:
        return b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _is_ehlo_domain(text):
    from exchange_console.lib.domains import is_domain

    return is_domain(text) or (text.startswith("[") and text.endswith("]"))


def _check_credentials(snapshot, login, password):
    """The mailbox address for a valid login (mailbox name or address) and password, else None.
    Runs in a thread: password hashing would stall every other session on the event loop."""
    login = login.lower()
    for credential in snapshot.credentials:
        if login in (credential.name, credential.address):
            return credential.address if check_password(password, credential.password_hash) else None
    return None
