"""One SMTP session on a receive connector: Exchange 2010's dialogue and policy, on asyncio's public API.

The session is the connection's protocol: bytes land in one bounded buffer (reading pauses while it is
full), one task per session reads command lines and DATA from it and answers, STARTTLS is loop.start_tls,
and however the session ends (QUIT, the client's FIN or reset, a timeout, a limit, an error) that task's one
`finally` closes the connection, gives back its connection slots and logs the disconnect. The connector is
chosen per connection by the client's address, the reply texts and enhanced status codes are Exchange's, and
every refusal follows the connector's settings.
"""
import asyncio
import binascii
import logging
import re
import time
from base64 import b64decode, b64encode
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import MappingProxyType

from django.contrib.auth.hashers import check_password

from exchange_console.lib.timespans import format_timespan
from transport.logs.protocol import CONNECT, DISCONNECT, INFORMATION, RECEIVED, SENT, NoSessionLog, endpoint
from transport.receive import policy
from transport.headers import FOREST_HEADERS, ORGANIZATION_HEADERS, strip_header_fields
from transport.receive.acceptance import TOO_BIG, MessageContent, header_facts, received_header
from transport.receive.runtime import peer_fingerprint
from transport.tls import certificate_matches

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
USER_UNKNOWN = "550 5.1.1 User unknown"   # an Edge's recipient filtering
DOMAIN_SECURE_FAILED = "454 4.7.5 Certificate validation failure"
# Only <CRLF>.<CRLF> ends DATA, and command lines end with CRLF alone: a bare CR or LF is how one message's data
# is made to look like its end to one server and not to another (SMTP smuggling). A message with a bare CR, or
# with a bare LF next to a line that is only a dot (what a lenient server takes for the end), is read to its real
# end and refused whole; so is any bare LF where the connector has BareLinefeedRejectionEnabled. Otherwise a bare
# LF is taken as Exchange takes it (its default): as a line ending, stored as CRLF. Such a command line is not run.
BARE_LINE_ENDING = "550 5.6.11 Message contains a bare CR or LF; lines must end with CRLF"
COMMAND_NOT_CRLF = "500 5.5.2 Command lines must end with CRLF"
INVALID_CHARACTERS = "501 5.5.4 Invalid characters in command"
LINE_TOO_LONG = "500 5.5.2 Line too long"
# What the reader buffers before it pauses the socket: a whole message of usual size, so that reading one
# doesn't stop and restart the socket's reading several times.
READ_BUFFER = 64 * 1024
LINE_LIMIT = 1001   # the longest command or AUTH line taken, its CRLF included
LONG_LINE_LIMIT = 8002   # with LongAddressesEnabled (XLONGADDR): 8,000 characters and the CRLF
ADDRESS_LIMIT, LONG_ADDRESS_LIMIT = 571, 1860   # Exchange's longest address, and with LongAddressesEnabled
ADDRESS_TOO_LONG = "501 5.1.3 Address too long"
CLOSE_GRACE = 10    # seconds a closed session's last replies may take to go out before the socket is dropped
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
ENVELOPE_LIMIT = "550 5.5.3 RESOLVER.ADR.RecipLimit; too many recipients"
HOP_COUNT_EXCEEDED = "554 5.4.6 Hop count exceeded - possible mail loop detected"
AUTH_FAILED = "535 5.7.3 Authentication unsuccessful"

# Sessions refused at connect or ended by a limit, as the metrics count them (by reply: a few dict lookups
# when a session ends, nothing per command).
_REFUSAL_REASONS = MappingProxyType({
    REFUSED_NO_CONNECTOR: "NoConnector", TOO_MANY_CONNECTIONS: "MaxInboundConnection",
    TOO_MANY_FROM_SOURCE: "MaxInboundConnectionPerSource", RATE_EXCEEDED: "MessageRateLimit",
    TOO_MANY_ERRORS: "TooManyErrors"})
_ENHANCED_CODE = re.compile(r"^(\d{3}[ -])\d\.\d{1,3}\.\d{1,3} ")
_COMMANDS = ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "STARTTLS", "AUTH",
             "HELP")
_BDAT = re.compile(r"^(\d{1,10})( +LAST)? *$", re.IGNORECASE)
# Arguments that end up in the Received header, the envelope and the logs: no control characters.
_CHECKED_COMMANDS, _CONTROL = ("HELO", "EHLO", "MAIL", "RCPT"), re.compile("[\x00-\x1f\x7f]")
_DSN_MAIL_PARAMS, _DSN_RCPT_PARAMS = ("RET", "ENVID"), ("NOTIFY", "ORCPT")
_BARE_LF_NEXT_TO_DOT = re.compile(rb"(?<!\r)\n\.\r?\n|\n\.\n")   # <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF>
_PROTECTED_HEADERS = ((policy.ACCEPT_ORGANIZATION_HEADERS, ORGANIZATION_HEADERS),
                      (policy.ACCEPT_FOREST_HEADERS, FOREST_HEADERS))
_AUTH_AS = MappingProxyType({policy.ANONYMOUS: "Anonymous", policy.MAILBOX_USER: "Internal",
                             policy.EXCHANGE_SERVER: "Internal", policy.PARTNER: "Partner",
                             policy.INTERNAL_SMTP_SERVER: "Anonymous", policy.LEGACY_SERVER: "Internal"})
_TOO_LONG = object()   # what the reader gives for a line over LINE_LIMIT (skipped whole)


class _AuthEnded(Exception):
    """The AUTH exchange ended before credentials arrived; its reply, if any, was sent."""


class ReceiveSession(asyncio.Protocol):
    def __init__(self, service):
        self.service, self.loop = service, service.loop
        self.runtime = service.runtime         # fixed for the whole session: reloads apply to new sessions
        self.transport = self.connector = None
        self.session_log = NoSessionLog()
        self.helo, self.extended_smtp, self.tls_active = None, False, False
        self.principal, self.auth_user, self.rights = policy.ANONYMOUS, "", frozenset()
        self.partner_certificate = None
        self.protocol_errors = self.logon_failures = 0
        self.started = time.monotonic()
        self._line_limit = LINE_LIMIT
        self._chunked = None   # the message BDAT chunks are bringing, once the first came
        self._buffer = bytearray()
        self._reading, self._writing = True, True        # neither paused
        self._client_done = self._ended = self._closing_locally = self._counted = False
        self._wakeup = self._inactivity = self._deadline = None
        self._last_activity = self.loop.time()
        self._reset_transaction()

    # --- the connection (asyncio's protocol callbacks) -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        sockname, peername = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        self.local_ip, self.local_port = sockname[0], sockname[1]
        self.client_ip, self.client_port = peername[0], peername[1]
        self._task = self.loop.create_task(self._run())

    def data_received(self, data):
        self._buffer += data
        self._last_activity = self.loop.time()   # any input, DATA's included, shows the client is there
        if self._reading and len(self._buffer) >= READ_BUFFER and self.transport is not None:
            self._reading = False
            self.transport.pause_reading()
        self._wake()

    def eof_received(self):
        self._client_done = True
        self._wake()
        return not self.tls_active   # keep our side open to answer what was buffered (TLS can't)

    def connection_lost(self, error):
        self._client_done = True
        self._wake()

    def pause_writing(self):
        self._writing = False

    def resume_writing(self):
        self._writing = True
        self._wake()

    def _wake(self):
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _wait(self, seconds=None):
        """Until something happens (input, the client's or the session's end, the socket writable again), or
        `seconds` pass."""
        self._wakeup = self.loop.create_future()
        timer = self.loop.call_later(seconds, self._wake) if seconds is not None else None
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()

    # --- the session's life ----------------------------------------------------------------------------

    async def _run(self):
        try:
            await self._serve()
        except Exception:
            log.exception("Receive session from %s ended by an error", self.client_ip, extra=self._log_fields())
            self._closing_locally = True
        finally:
            self._release()

    def _refused(self, reason, status):
        self.service.refused[self.connector.name if self.connector else "", reason] += 1
        log.info("Receive session from %s refused (%s): %s", self.client_ip, reason, status, extra=self._log_fields())

    def _log_fields(self):
        """What a log line about this session names (LOG_FORMAT=json shows them as fields)."""
        return {"server": self.runtime.snapshot.name, "connector": self.connector.name if self.connector else "",
                "session": getattr(self.session_log, "session_id", "")}

    def _release(self):
        """The one way out of every session, whatever ended it."""
        self._ended = True
        for handle in (self._inactivity, self._deadline):
            if handle is not None:
                handle.cancel()
        if self.transport is not None:
            self.transport.close()
            if self.transport.get_write_buffer_size():   # a client that doesn't read its last replies
                self.loop.call_later(CLOSE_GRACE, self.transport.abort)
        if self._chunked is not None:
            self._chunked.content.discard()
        if self._counted:
            self.service.connection_closed(self.connector, self.client_ip)
        if self.connector is not None:
            self.session_log.write(DISCONNECT, "", "Local" if self._closing_locally else "Remote")

    def _end(self, status=None):
        """End the session from our side, after `status` if given: the session's task stops at its next step."""
        if status is not None:
            self._write_now(status)
            if status in _REFUSAL_REASONS:
                self._refused(_REFUSAL_REASONS[status], status)
        self._ended = self._closing_locally = True
        self._wake()

    async def _serve(self):
        self.connector = self.runtime.connector_for(self.local_ip, self.local_port, self.client_ip)
        if self.connector is None:
            return self._end(REFUSED_NO_CONNECTOR)
        if self.connector.verbose_logging:
            self.session_log = self.runtime.protocol_log.session(
                self.connector.identity, endpoint(self.local_ip, self.local_port),
                endpoint(self.client_ip, self.client_port))
        self.session_log.write(CONNECT)
        refusal = self.service.connection_opened(self.connector, self.client_ip)
        if refusal:
            return self._end(refusal)
        self._counted = True
        self._line_limit = LONG_LINE_LIMIT if self.connector.long_addresses_enabled else LINE_LIMIT
        self._inactivity_timeout = self.connector.connection_inactivity_timeout.total_seconds()
        self._inactivity = self.loop.call_later(self._inactivity_timeout, self._inactivity_check)
        self._deadline = self.loop.call_later(self.connector.connection_timeout.total_seconds(),
                                              self._connection_timed_out)
        self._set_principal(self._connecting_principal())
        await self.push(self._banner())
        while (line := await self._read_line()) is not None:
            await self._dispatch(line)

    def _inactivity_check(self):
        """ConnectionInactivityTimeout: one timer per session, that looks when it fires at when input last
        came (rather than a new timer for every command or chunk)."""
        idle = self.loop.time() - self._last_activity
        if idle >= self._inactivity_timeout:
            self._end(INACTIVITY_TIMEOUT)
        else:
            self._inactivity = self.loop.call_later(self._inactivity_timeout - idle, self._inactivity_check)

    def _connection_timed_out(self):
        elapsed = timedelta(seconds=int(time.monotonic() - self.started))
        self._end(CONNECTION_TIMED_OUT.format(format_timespan(elapsed)))

    # --- reading ---------------------------------------------------------------------------------------

    def _consume(self, count):
        del self._buffer[:count]
        if not self._reading and len(self._buffer) < READ_BUFFER and self.transport is not None:
            self._reading = True
            self.transport.resume_reading()

    async def _read_line(self):
        """The next line with its line ending; _TOO_LONG for a line over the limit (LINE_LIMIT, or LONG_LINE_LIMIT
        with LongAddressesEnabled; skipped whole); None when nothing more comes (an unfinished last line is
        dropped)."""
        while not self._ended:
            end = self._buffer.find(b"\n", 0, self._line_limit)
            if end != -1:
                line = bytes(self._buffer[:end + 1])
                self._consume(end + 1)
                return line
            if len(self._buffer) >= self._line_limit:
                return await self._skip_line()
            if self._client_done:
                return None
            await self._wait()
        return None

    async def _skip_line(self):
        while (end := self._buffer.find(b"\n")) == -1:
            self._consume(len(self._buffer))
            if self._ended or self._client_done:
                return None
            await self._wait()
        self._consume(end + 1)
        return _TOO_LONG

    async def _read_data(self, content):
        """DATA's lines into `content`, dot-unstuffed, up to <CRLF>.<CRLF> and nothing else; True once that
        arrived. Taken in runs of whole lines (a long line in parts), never one line at a time; a refused bare
        CR or LF drops the content, but the reading goes on to the real end."""
        line_start = b"\r\n"   # what ended the line before the next run: the DATA command's CRLF, b"" mid-line
        bare_lf_taken = not self.connector.bare_linefeed_rejection_enabled
        while not self._ended:
            buffer = self._buffer
            if line_start == b"\r\n" and buffer.startswith(b".\r\n"):
                self._consume(3)
                return True
            final = buffer.find(b"\r\n.\r\n")
            if final != -1:
                cut = final + 2
            else:
                cut = buffer.rfind(b"\n") + 1 or (len(buffer) - buffer.endswith(b"\r")
                                                  if len(buffer) >= READ_BUFFER else 0)
            if cut:
                run = buffer[:cut]
                if content.refusal is None:
                    _add_run(content, run, line_start, bare_lf_taken)
                line_start = b"\r\n" if run.endswith(b"\r\n") else b"\n" if run.endswith(b"\n") else b""
                self._consume(cut + (3 if final != -1 else 0))
                if final != -1:
                    return True
            elif self._client_done:
                return False
            else:
                await self._wait()
        return False


    # --- replies ---------------------------------------------------------------------------------------

    def _with_status_codes(self, status):
        if self.connector is not None and not self.connector.enhanced_status_codes_enabled:
            return _ENHANCED_CODE.sub(r"\1", status)
        return status

    def _write_now(self, status):
        """Send a reply unless the session is over; False if it was not sent."""
        if self._ended or self.transport is None or self.transport.is_closing():
            return False
        status = self._with_status_codes(status)
        self.session_log.write(SENT, status)
        self.transport.write(status.encode() + b"\r\n")
        return True

    async def push(self, status):
        if self._write_now(status):
            await self._drain()

    async def push_lines(self, code, lines):
        """A multi-line reply, in one write; the protocol log shows it as one line, as Exchange's does."""
        if self._ended or self.transport is None or self.transport.is_closing():
            return
        self.session_log.write(SENT, f"{code}  " + " ".join(lines))
        reply = [f"{code}-{line}" for line in lines[:-1]] + [f"{code} {lines[-1]}"]
        self.transport.write("\r\n".join(reply).encode() + b"\r\n")
        await self._drain()

    async def _drain(self):
        """A client that doesn't read its replies stops being read (its commands wait in the socket)."""
        while not (self._writing or self._ended or self._client_done):
            await self._wait()

    async def refuse(self, status):
        """A 5xx refusal: unauthenticated clients wait TarpitInterval first (slows down harvesting); a client
        that closes its side meanwhile gets the reply at once."""
        tarpit = self.connector.tarpit_interval.total_seconds()
        if status.startswith("5") and self.principal == policy.ANONYMOUS and tarpit > 0:
            until = self.loop.time() + tarpit
            while not (self._ended or self._client_done) and (left := until - self.loop.time()) > 0:
                await self._wait(left)
        await self.push(status)

    async def protocol_error(self, status):
        """A syntax or sequence error; MaxProtocolErrors of them end the session."""
        self.protocol_errors += 1
        limit = self.connector.max_protocol_errors
        if limit is not None and self.protocol_errors > limit:
            return self._end(TOO_MANY_ERRORS)
        await self.refuse(status)

    # --- the commands ----------------------------------------------------------------------------------

    async def _dispatch(self, line):
        if line is _TOO_LONG:
            return await self.protocol_error(LINE_TOO_LONG)
        if not line.endswith(b"\r\n"):
            return await self.protocol_error(COMMAND_NOT_CRLF)
        if line == b"\r\n":
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        try:
            text = line[:-2].decode("ascii")
        except UnicodeDecodeError:
            return await self.protocol_error("500 5.5.2 Invalid characters in command")
        command, _, arg = text.partition(" ")
        command = command.upper()
        if command in _CHECKED_COMMANDS and _CONTROL.search(arg):
            self.session_log.write(RECEIVED, command)   # the argument is neither logged nor echoed
            return await self.protocol_error(INVALID_CHARACTERS)
        self.session_log.write(RECEIVED, _loggable(command, text))
        if command not in _COMMANDS:
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        await getattr(self, f"smtp_{command}")(arg.strip())

    def _banner(self):
        if self.connector.banner:
            return self.connector.banner
        return f"220 {self.connector.fqdn} Microsoft ESMTP MAIL Service ready at {self.service.banner_clock.now()}"

    # --- who the client is -----------------------------------------------------------------------------

    def _externally_secured(self):
        mechanisms = self.connector.auth_mechanism
        return "ExternalAuthoritative" in mechanisms

    def _connecting_principal(self):
        """Who the client is before it says anything: an externally secured server, one of the organization's
        InternalSMTPServers (on an Edge), or anonymous."""
        if self._externally_secured():
            return policy.EXCHANGE_SERVER
        if policy.is_internal_smtp_server(self.runtime.snapshot, self.client_ip):
            return policy.INTERNAL_SMTP_SERVER
        return policy.ANONYMOUS

    def _set_principal(self, principal, auth_user=""):
        self.principal, self.auth_user = principal, auth_user
        self.rights = policy.session_rights(self.connector, principal, auth_user)
        self.session_log.write(INFORMATION, policy.format_rights(self.rights), "Set Session Permissions")

    def _tls_established(self):
        """RFC 3207: forget what was said before STARTTLS; recognize the organization's own servers."""
        self.helo, self.extended_smtp, self.tls_active = None, False, True
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
        elif "ExchangeServer" in self.connector.auth_mechanism and fingerprint in self.runtime.legacy_fingerprints:
            self.session_log.write(INFORMATION, "", "Legacy Exchange server authenticated by certificate")
            self._set_principal(policy.LEGACY_SERVER)
        else:
            self.partner_certificate = ssl_object.getpeercert()

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
        self.extended_smtp = True
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
        if self._tls_offered():
            extensions.append("STARTTLS")
        if self._basic_auth_offered():
            extensions.append("AUTH PLAIN LOGIN")
        if connector.eight_bit_mime_enabled:
            extensions.append("8BITMIME")
        if connector.chunking_enabled:
            extensions.append("CHUNKING")
        if connector.long_addresses_enabled:
            extensions.append("XLONGADDR")
        if connector.orar_enabled:
            extensions.append("XORAR")
        return extensions

    def _tls_offered(self):
        """Tls in AuthMechanism and a certificate enabled for SMTP (a server without one offers no STARTTLS)."""
        return "Tls" in self.connector.auth_mechanism and not self.tls_active and self.runtime.tls_context is not None

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
        self._end("221 2.0.0 Service closing transmission channel")

    async def smtp_STARTTLS(self, arg):
        if not self._tls_offered():
            return await self.protocol_error("500 5.3.3 Unrecognized command")
        if arg:
            return await self.protocol_error("501 5.5.4 Invalid arguments")
        await self.push("220 2.0.0 SMTP server ready")
        for data, context in self.runtime.certificate_facts:
            self.session_log.write(INFORMATION, data, context)
        self._buffer.clear()   # RFC 3207: what came before the handshake is not taken (command injection)
        plain, self.transport = self.transport, None   # no reply may go out in the clear meanwhile
        try:
            self.transport = await self.loop.start_tls(plain, self, self.runtime.tls_context, server_side=True,
                                                       ssl_handshake_timeout=self._inactivity_timeout)
        except Exception as error:  # a failed handshake ends the session, as in Exchange (start_tls closed it)
            self.session_log.write(INFORMATION, str(error)[:200], "TLS negotiation failed")
            return self._end()
        self._reading = True
        self._tls_established()

    async def smtp_AUTH(self, arg):
        if self.helo is None or not self.extended_smtp:
            return await self.protocol_error("503 5.5.2 Send hello first")
        if self.principal != policy.ANONYMOUS:
            return await self.protocol_error("503 5.5.2 Already authenticated")
        mechanism, _, initial = arg.partition(" ")
        if mechanism.upper() not in ("PLAIN", "LOGIN") or not self._basic_auth_offered():
            return await self.refuse("504 5.7.4 Unrecognized authentication type")
        if not policy.authentication_useful(self.connector):
            return await self.refuse("535 5.7.3 Authentication unsuccessful")
        try:
            credentials = await self._read_credentials(mechanism.upper(), initial.strip())
        except _AuthEnded:
            return
        user = await self.loop.run_in_executor(None, _check_credentials, self.runtime.snapshot, *credentials)
        if user is None:
            return await self._logon_failed()
        self.session_log.write(INFORMATION, user, "authenticated")
        self._set_principal(policy.MAILBOX_USER, user)
        await self.push("235 2.7.0 Authentication successful")

    async def _read_credentials(self, mechanism, initial):
        """(login, password) from the AUTH exchange (never logged); _AuthEnded when there are none."""
        if mechanism == "PLAIN":
            blob = _b64(initial) if initial else await self._challenge("")
            parts = blob.split(b"\x00") if blob is not None else []
            if len(parts) != 3:
                await self.protocol_error("501 5.5.2 Cannot decode response")
                raise _AuthEnded
            return parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
        login = _b64(initial) if initial else await self._challenge("Username:")
        password = await self._challenge("Password:") if login is not None else None
        if login is None or password is None:
            await self.protocol_error("501 5.5.2 Cannot decode response")
            raise _AuthEnded
        return login.decode("utf-8", "replace"), password.decode("utf-8", "replace")

    async def _challenge(self, prompt):
        await self.push(f"334 {b64encode(prompt.encode()).decode()}")
        line = await self._read_line()
        if line is None:
            raise _AuthEnded
        self.session_log.write(RECEIVED, "****")
        if line is _TOO_LONG:
            await self.protocol_error(LINE_TOO_LONG)
            raise _AuthEnded
        line = line.strip()
        return None if line == b"*" else _b64(line.decode("ascii", "replace"))

    async def _logon_failed(self):
        self.logon_failures += 1
        self.session_log.write(INFORMATION, "", "Inbound authentication failed")
        limit = self.connector.max_logon_failures   # 0: never disconnect for failed logons
        if limit and self.logon_failures >= limit:
            await self.push(AUTH_FAILED)
            return self._end(TOO_MANY_ERRORS)
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
        if len(address) > self._address_limit():
            return await self.protocol_error(ADDRESS_TOO_LONG)
        if address and self._domain_secure_required(policy.domain_of(address)):
            if not self._domain_secured(policy.domain_of(address)):
                return await self.refuse(DOMAIN_SECURE_FAILED)
        if policy.SUBMIT not in self.rights:
            return await self.refuse(NOT_AUTHENTICATED)
        options, refusal = self._mail_parameters(params)
        if refusal:
            return await self.refuse(refusal)
        if not policy.sender_allowed(self.rights, self.runtime.snapshot.accepted_domains, address, self.auth_user,
                                     partner=self.principal == policy.PARTNER,
                                     partner_certificate=self.partner_certificate):
            return await self.refuse(SEND_AS_DENIED)
        if not self.service.record_message(self.connector, self.client_ip, self.auth_user):
            return self._end(RATE_EXCEEDED)
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

    def _domain_secured(self, domain):
        """Mutual TLS: the client's verified certificate names the sender's domain; the session becomes a
        partner's."""
        if not (self.tls_active and certificate_matches(self.partner_certificate, domain)):
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
            address, params, tricks = policy.parse_path(arg[3:], postmaster=self.runtime.snapshot.postmaster_address)
        except policy.AddressError as error:
            return await self.protocol_error(error.reply)
        if len(address) > self._address_limit():
            return await self.protocol_error(ADDRESS_TOO_LONG)
        options, refusal = self._rcpt_parameters(params)
        if refusal:
            return await self.refuse(refusal)
        if not policy.recipient_accepted(self.rights, self.runtime.snapshot.accepted_domains, address, tricks):
            return await self.refuse(UNABLE_TO_RELAY)
        if policy.recipient_unknown(self.principal, self.rights, self.runtime.snapshot, address):
            return await self.refuse(USER_UNKNOWN)
        if len(self.rcpt_tos) >= self.connector.max_recipients_per_message:
            return await self.push(TOO_MANY_RECIPIENTS)
        envelope_limit = self.runtime.snapshot.max_recipient_envelope_limit
        if envelope_limit is not None and len(self.rcpt_tos) >= envelope_limit:
            return await self.refuse(ENVELOPE_LIMIT)
        self.rcpt_tos.append(address)
        self.rcpt_options.append(tuple(options))
        await self.push("250 2.1.5 Recipient OK")

    def _address_limit(self):
        return LONG_ADDRESS_LIMIT if self.connector.long_addresses_enabled else ADDRESS_LIMIT

    def _rcpt_parameters(self, params):
        """(kept options, refusal) for the DSN parameters and, with OrarEnabled, ORAR (the Originator Requested
        Alternate Recipient, kept with the recipient: ORAR=rfc822;address, or an X.400 address)."""
        options = []
        for param in params:
            name, _, value = param.partition("=")
            name = name.upper()
            if name in _DSN_RCPT_PARAMS and self.connector.delivery_status_notification_enabled:
                options.append(param)
            elif name == "ORAR" and self.connector.orar_enabled and value:
                if len(value) > self._address_limit():
                    return [], ADDRESS_TOO_LONG
                options.append(f"ORAR={value}")
            else:
                return [], "555 5.5.4 Unsupported option"
        return options, None

    async def smtp_DATA(self, arg):
        if self.mail_from is None:
            return await self.protocol_error("503 5.5.2 Need mail command")
        if not self.rcpt_tos:
            return await self.protocol_error("503 5.5.2 Need rcpt command")
        if self._chunked is not None:
            return await self.protocol_error("503 5.5.1 DATA can't follow BDAT")
        await self.push("354 Start mail input; end with <CRLF>.<CRLF>")
        content = MessageContent(self.runtime.store, self._size_limit(), self.connector.max_header_size)
        try:
            if await self._read_data(content):
                await self._message_received(content)
        finally:
            content.discard()   # a refused or abandoned message's spool; a stored one's was copied

    async def smtp_BDAT(self, arg):
        """CHUNKING (RFC 3030): the chunk's octets follow the command line, counted, never read as commands; the
        chunk marked LAST ends the message, which is then refused or stored as DATA's would be."""
        match = _BDAT.match(arg)
        if match is None:   # no size to skip by: what follows can't be told from commands
            return self._end("501 5.5.4 Invalid arguments")
        refusal = self._bdat_refusal()
        if refusal is None and self._chunked is None:
            content = MessageContent(self.runtime.store, self._size_limit(), self.connector.max_header_size)
            self._chunked = _ChunkedContent(content, not self.connector.bare_linefeed_rejection_enabled)
        sink = self._chunked.add if refusal is None else None
        if not await self._read_chunk(int(match.group(1)), sink):
            return
        if refusal is not None:
            return await self.protocol_error(refusal)
        if not match.group(2):
            return await self.push(f"250 2.0.0 CHUNK received OK, {match.group(1)} octets")
        chunked, self._chunked = self._chunked, None
        try:
            chunked.end()
            await self._message_received(chunked.content)
        finally:
            chunked.content.discard()

    def _bdat_refusal(self):
        if not self.connector.chunking_enabled or not self.extended_smtp:
            return "500 5.3.3 Unrecognized command"
        if self.mail_from is None:
            return "503 5.5.2 Need mail command"
        if not self.rcpt_tos:
            return "503 5.5.2 Need rcpt command"
        return None

    async def _read_chunk(self, size, sink):
        """Exactly `size` octets from the client, handed to `sink` as they arrive (dropped without one); False if
        the session ended first."""
        while size:
            if self._buffer:
                piece = bytes(self._buffer[:size])
                self._consume(len(piece))
                size -= len(piece)
                if sink is not None:
                    sink(piece)
            elif self._ended or self._client_done:
                return False
            else:
                await self._wait()
        return True

    async def _message_received(self, content):
        """The final dot arrived: refuse the message, or store it and say so."""
        content.end()
        facts = None if content.refusal else header_facts(content.headers, self.runtime.snapshot.organization_hosts)
        refusal = content.refusal or (HOP_COUNT_EXCEEDED if self._too_many_hops(facts) else None)
        if refusal:
            self._reset_transaction()
            return await self.refuse(refusal)
        envelope = await self._accept(content, facts)
        self.service.received[self.connector.name] += 1
        self._reset_transaction()
        self.session_log.write(INFORMATION, envelope.header_message_id, "receiving message")
        await self.push(f"250 2.6.0 {envelope.header_message_id} [InternalId={envelope.message_id}] "
                        "Queued mail for delivery")

    def _too_many_hops(self, facts):
        local_limit = self.connector.max_local_hop_count   # 0: local hops aren't counted
        return (facts["received_count"] >= self.connector.max_hop_count
                or (local_limit and facts["local_received_count"] >= local_limit))

    def _header_firewall(self, headers):
        """Organization and forest headers survive only from senders with the right to set them."""
        untrusted = tuple(prefix for right, prefix in _PROTECTED_HEADERS if right not in self.rights)
        return strip_header_fields(headers, untrusted) if untrusted else headers

    async def _accept(self, content, facts):
        moment = datetime.now(timezone.utc)
        received = received_header(self.helo, self.client_ip, self.connector.fqdn, self.local_ip,
                                   self.tls_active, self.service.banner_clock.received(moment))
        received += (f"X-MS-Exchange-Organization-AuthSource: {self.connector.fqdn}\r\n"
                     f"X-MS-Exchange-Organization-AuthAs: {_AUTH_AS[self.principal]}\r\n").encode()
        envelope_fields = dict(
            mail_from=self.mail_from, rcpt_tos=tuple(self.rcpt_tos), received_connector=self.connector.identity,
            client_ip=self.client_ip, client_hostname=self.helo, auth_user=self.auth_user,
            arrival_time=moment, mail_options=tuple(self.mail_options), rcpt_options=tuple(self.rcpt_options),
        )
        return await self.service.acceptance.accept(
            self.runtime, content=content, headers=self._header_firewall(content.headers), facts=facts,
            envelope_fields=envelope_fields, server_ip=self.local_ip, received=received, fqdn=self.connector.fqdn)

    def _reset_transaction(self):
        self.mail_from, self.mail_options, self.rcpt_tos, self.rcpt_options = None, [], [], []
        if self._chunked is not None:
            self._chunked.content.discard()
            self._chunked = None


class _ChunkedContent:
    """BDAT chunks into a MessageContent, whole lines at a time (a line may span chunks), with DATA's rules for line
    endings (a bare CR refuses the message; a bare LF ends a line unless the connector refuses it) and no
    dot-stuffing: a chunk is counted, so a dot is only a dot."""

    def __init__(self, content, bare_lf_taken):
        self.content, self.bare_lf_taken = content, bare_lf_taken
        self.pending, self.line_start = bytearray(), b"\r\n"

    def add(self, piece):
        self.pending += piece
        cut = self.pending.rfind(b"\n") + 1
        if not cut and len(self.pending) >= READ_BUFFER:   # a long line, in parts (never split inside a CRLF)
            cut = len(self.pending) - self.pending.endswith(b"\r")
        if cut:
            self._add(bytes(self.pending[:cut]))
            del self.pending[:cut]

    def end(self):
        """The LAST chunk came: an unfinished last line gets its CRLF, as DATA's content always ends with one (the
        session ends the content itself, as DATA's)."""
        if self.pending:
            self._add(bytes(self.pending) + b"\r\n")
            self.pending.clear()

    def _add(self, run):
        if self.content.refusal is None:
            _add_run(self.content, run, self.line_start, self.bare_lf_taken, dot_stuffed=False)
        self.line_start = b"\r\n" if run.endswith(b"\r\n") else b"\n" if run.endswith(b"\n") else b""


def _add_run(content, run, line_start, bare_lf_taken, dot_stuffed=True):
    """One run of whole lines into `content`, dot-unstuffed when `dot_stuffed` (DATA's). A bare CR refuses the
    message; so does a bare LF unless `bare_lf_taken`, and in DATA then still next to a line that is only a dot; a
    bare LF taken ends its line (stored as CRLF). `line_start`: what ended the line before the run (b"" when the
    run goes on with one)."""
    line_endings = run.count(b"\r\n")
    if run.count(b"\r") != line_endings:
        return content.drop(BARE_LINE_ENDING)
    if run.count(b"\n") != line_endings or line_start == b"\n":
        if not bare_lf_taken or (dot_stuffed and _BARE_LF_NEXT_TO_DOT.search(line_start + run)):
            return content.drop(BARE_LINE_ENDING)
        run = run.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not dot_stuffed:
        return content.add(run)
    if line_start and run.startswith(b"."):
        run = run[1:]
    content.add(run.replace(b"\r\n.", b"\r\n"))


class BannerClock:
    """The dates a session writes, RFC 5322, to the second: the banner's (local time) and the Received header's
    (UTC), each formatted once a second rather than for every connection or message: the formatting and the local
    time zone's lookup cost more than the rest of the greeting. One per event loop."""

    def __init__(self):
        self._banner = self._received = (None, "")

    def now(self):
        second = int(time.time())
        if second != self._banner[0]:
            self._banner = second, format_datetime(datetime.fromtimestamp(second, timezone.utc).astimezone())
        return self._banner[1]

    def received(self, moment):
        """`moment` (UTC) as the Received header dates it."""
        second = int(moment.timestamp())
        if second != self._received[0]:
            self._received = second, format_datetime(datetime.fromtimestamp(second, timezone.utc))
        return self._received[1]


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
