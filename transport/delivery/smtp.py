"""The SMTP client of send connectors: EHLO (or HELO) with the connector's FQDN, STARTTLS as the connector's TLS
settings ask, smart host authentication, and per-recipient results for one message at a time on a connection
that carries up to SmtpMaxMessagesPerConnection messages. What it sends ends every line with CRLF, and carries
the organization's own headers only to the organization's servers."""
import ipaddress
import smtplib
import ssl
import threading
from dataclasses import dataclass

from transport.headers import FOREST_HEADERS, ORGANIZATION_HEADERS, strip_header_fields
from transport.logs.protocol import CONNECT, DISCONNECT, RECEIVED, SENT, NoSessionLog, endpoint
from transport.tls import certificate_matches, load_certificate_chain



class ConnectFailure(Exception):
    """No host of the next hop took a session; the queue retries (and may fail over)."""


class SessionFailure(Exception):
    """The next hop refused the whole message (MAIL FROM, DATA) or the session; `code` says how."""

    def __init__(self, code, text):
        self.code, self.text = code, text
        super().__init__(f"{code} {text}")

    @property
    def permanent(self):
        return 500 <= self.code < 600


@dataclass(frozen=True)
class TlsPolicy:
    required: bool              # no STARTTLS or a failed handshake ends the session
    ignore_starttls: bool       # never STARTTLS even when offered
    verify_chain: bool          # the certificate must chain to a trusted root
    certificate_name: str       # the name the certificate must match ('' = any)
    client_certificate: bool    # present the server's certificate (mutual TLS, Exchange server authentication)
    organization_peer: bool = False   # the peer is a server of ours: its certificate is one the configuration holds


# Between a Hub and its Edge: TLS always, each side presenting its certificate and accepting only the other's
# as the subscription exchanged them (Exchange's Direct Trust).
EDGE_RELAY = TlsPolicy(True, False, True, "", True, organization_peer=True)


def tls_policy(connector, domain, snapshot):
    """What the connector's TLS parameters demand for mail to `domain`."""
    if connector.edge_relay:
        return EDGE_RELAY
    if connector.domain_secure_enabled and domain.lower() in snapshot.tls_send_domain_secure_list:
        return TlsPolicy(True, False, True, domain.lower(), True)
    exchange_server = connector.smart_host_authentication == "ExchangeServer"
    if connector.require_tls:
        level = connector.tls_auth_level or "EncryptionOnly"
        return TlsPolicy(True, False, level != "EncryptionOnly",
                         connector.tls_domain if level == "DomainValidation" else "", exchange_server)
    requires_tls_for_auth = connector.smart_host_authentication == "BasicAuthRequireTLS"
    return TlsPolicy(requires_tls_for_auth, connector.ignore_starttls, False, "", exchange_server)


def keeps_organization_headers(connector, snapshot, host_name, address, port):
    """Whether the host a session reached is another transport server of ours, which may read the
    organization's X-MS-Exchange-Organization-* and -Forest-* headers (how the sender authenticated, spam
    verdicts); anywhere else they would say too much, and a next hop that trusts them could be misled. Ours:
    a connector authenticating as an Exchange server (only our servers grant that) or meant for them (Usage
    Internal), or a smart host the configuration knows as one of our servers, by FQDN or by the address and
    port one of our receive connectors listens on. MX hosts never are: DNS, not the administrator, names them."""
    if connector.smart_host_authentication == "ExchangeServer" or connector.usage == "Internal":
        return True
    return bool(connector.smart_hosts) and (host_name.strip("[]").lower() in snapshot.organization_hosts
                                            or (address, port) in snapshot.organization_bindings)


def source_address(connector, address):
    """SourceIPAddress: the local address the connection comes from, or None to let the system choose (0.0.0.0, or
    an address of the other IP version than the host's: an IPv4 address can't reach an IPv6 host)."""
    source = ipaddress.ip_address(connector.source_ip_address)
    if source.is_unspecified or source.version != ipaddress.ip_address(address).version:
        return None
    return str(source), 0


class ClientContexts:
    """The TLS client contexts of one worker, by content: a configuration read again with the same certificate
    reuses its context, a replaced certificate gets a new one (the few combinations a server has, kept)."""

    LIMIT = 32

    def __init__(self):
        self._lock = threading.Lock()
        self._contexts = {}

    def get(self, *key):
        with self._lock:
            if key not in self._contexts:
                if len(self._contexts) >= self.LIMIT:
                    self._contexts.clear()
                self._contexts[key] = client_context(*key)
            return self._contexts[key]


def client_context(verify_chain, trusted_roots_pem, certificate_pem=b"", private_key_pem=b"", system_roots=True):
    """The key is loaded into memory only (see load_certificate_chain). Without `system_roots`, only
    `trusted_roots_pem` vouch for the peer (a server of ours, pinned)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False   # names are checked by certificate_matches, which knows TlsDomain patterns
    if verify_chain:
        context.verify_mode = ssl.CERT_REQUIRED
        if system_roots:
            context.load_default_certs()
        if trusted_roots_pem:
            context.load_verify_locations(cadata=trusted_roots_pem.decode())
    else:
        context.verify_mode = ssl.CERT_NONE
    if certificate_pem:
        load_certificate_chain(context, certificate_pem, private_key_pem)
    return context


class SmtpSession:
    """One SMTP session to one host address, opened as the connector says."""

    def __init__(self, connector, policy, snapshot, contexts, session_log_factory=None):
        self.connector, self.policy, self.snapshot, self.contexts = connector, policy, snapshot, contexts
        self.session_log_factory = session_log_factory
        self.client = None
        self.messages_sent = 0
        self.inside_organization = False

    def open(self, host_name, address, port):
        timeout = self.connector.connection_inactivity_timeout.total_seconds()
        client = LoggingSMTP(local_hostname=self.connector.fqdn, timeout=timeout,
                             source_address=source_address(self.connector, address),
                             session_log_factory=self.session_log_factory)
        self.client = client
        self.inside_organization = keeps_organization_headers(self.connector, self.snapshot, host_name, address,
                                                              port)
        code, text = client.connect(address, port)
        if code != 220:
            raise SessionFailure(code, _text(text))
        self._greet()
        if self._should_starttls():
            self._starttls(host_name)
        elif self.policy.required:
            raise SessionFailure(451, "4.4.0 The remote server doesn't offer STARTTLS, which the connector requires")
        self._authenticate()
        return self

    def _greet(self):
        if self.connector.force_helo:
            code, text = self.client.helo(self.connector.fqdn)
        else:
            code, text = self.client.ehlo(self.connector.fqdn)
        if code != 250:
            raise SessionFailure(code, _text(text))

    def _should_starttls(self):
        return not self.policy.ignore_starttls and self.client.has_extn("starttls")

    def _starttls(self, host_name):
        snapshot = self.snapshot
        certificate = (snapshot.certificate_pem, snapshot.private_key_pem) if self.policy.client_certificate else ()
        roots = snapshot.organization_certificates_pem if self.policy.organization_peer else snapshot.trusted_roots_pem
        context = self.contexts.get(self.policy.verify_chain, roots, *(certificate or (b"", b"")),
                                    not self.policy.organization_peer)
        self.client._host = host_name.strip("[]")   # smtplib sends it as the TLS server name (SNI)
        try:
            code, text = self.client.starttls(context=context)
        except (ssl.SSLError, OSError) as error:
            raise SessionFailure(451, f"4.4.0 TLS negotiation with {host_name} failed: {error}") from None
        if code != 220:
            if self.policy.required:
                raise SessionFailure(451, f"4.4.0 STARTTLS was refused: {code} {_text(text)}")
            return
        name = self.policy.certificate_name
        if name and not certificate_matches(self.client.sock.getpeercert(), name):
            raise SessionFailure(451, f"4.4.0 The certificate of {host_name} isn't valid for {name}")
        self._greet()

    def _authenticate(self):
        mechanism = self.connector.smart_host_authentication
        if mechanism not in ("BasicAuth", "BasicAuthRequireTLS") or not self.connector.authentication_credential:
            return
        user, password = self.connector.authentication_credential
        try:
            self.client.login(user, password)
        except smtplib.SMTPAuthenticationError as error:
            raise SessionFailure(error.smtp_code, _text(error.smtp_error)) from None
        except smtplib.SMTPNotSupportedError:
            raise SessionFailure(451, "4.7.0 The smart host doesn't offer authentication") from None

    def send(self, mail_from, recipients, content):
        """Send one message; {recipient: (code, text)} for every recipient. SessionFailure when the whole
        message was refused."""
        if not self.inside_organization:
            content = strip_header_fields(content, (ORGANIZATION_HEADERS, FOREST_HEADERS))
        if self.client.has_extn("pipelining"):
            return self._send_pipelined(mail_from, recipients, content)
        code, text = self.client.mail(mail_from)
        if code != 250:
            self.client.rset()
            raise SessionFailure(code, _text(text))
        results = {recipient: _reply(self.client.rcpt(recipient)) for recipient in recipients}
        accepted = [recipient for recipient, (code, _) in results.items() if 200 <= code < 300]
        if not accepted:
            self.client.rset()
            return results
        try:
            code, text = self.client.data(content)
        except smtplib.SMTPDataError as error:
            code, text = error.smtp_code, error.smtp_error
        self.messages_sent += 1
        results.update({recipient: (code, _text(text)) for recipient in accepted})
        return results

    def _send_pipelined(self, mail_from, recipients, content):
        """PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one write, their replies read in order, then
        the content once DATA got its 354. Same results as one command at a time, with fewer round trips."""
        # The envelope's addresses were checked as SMTP paths when received: they go as they came (smtplib's
        # quoteaddr would parse each as a header address first).
        replies = self.client.pipeline([("mail", f"FROM:<{mail_from}>"),
                                        *(("rcpt", f"TO:<{r}>") for r in recipients),
                                        ("data", "")])
        (code, text), (data_code, data_text) = replies[0], replies[-1]
        results = {recipient: _reply(reply) for recipient, reply in zip(recipients, replies[1:-1])}
        accepted = [recipient for recipient, (rcpt_code, _) in results.items() if 200 <= rcpt_code < 300]
        if data_code == 354 and (code != 250 or not accepted):
            self.client.content(b"")   # DATA was taken though nothing can be delivered: end it empty
        if code != 250:
            self.client.rset()
            raise SessionFailure(code, _text(text))
        if not accepted:
            self.client.rset()
            return results
        if data_code == 354:
            data_code, data_text = self.client.content(content)
            self.messages_sent += 1
        results.update({recipient: (data_code, _text(data_text)) for recipient in accepted})
        return results

    def close(self):
        if self.client is None:
            return
        try:
            self.client.quit()
        except (smtplib.SMTPException, OSError):
            self.client.close()
        self.client = None


class LoggingSMTP(smtplib.SMTP):
    """smtplib writing the SEND protocol log of Verbose connectors: commands out ('>'), replies in ('<').
    Authentication exchanges are logged without their credentials."""

    def __init__(self, *args, session_log_factory=None, **kwargs):
        self._log_factory, self._log, self._in_auth = session_log_factory, NoSessionLog(), False
        super().__init__(*args, **kwargs)

    def connect(self, host="localhost", port=0, source_address=None):
        reply = super().connect(host, port, source_address)
        if self._log_factory:
            self._log = self._log_factory(endpoint(*self.sock.getsockname()[:2]),
                                          endpoint(*self.sock.getpeername()[:2]))
            self._log.write(CONNECT)
            self._log.write(RECEIVED, f"{reply[0]} {_text(reply[1])}")
        return reply

    def putcmd(self, cmd, args=""):
        if self._in_auth:
            shown = "<authentication response>"
        elif cmd.upper() == "AUTH":
            shown, self._in_auth = f"AUTH {args.split(' ', 1)[0]}", True
        else:
            shown = f"{cmd.upper()} {args}".strip()
        self._log.write(SENT, shown)
        super().putcmd(cmd, args)

    def pipeline(self, commands):
        """Send commands [(verb, arguments)] in one write and return their replies, in order."""
        lines = [f"{verb.upper()} {arguments}".strip() for verb, arguments in commands]
        for line in lines:
            self._log.write(SENT, line)
        self.send("".join(line + "\r\n" for line in lines))
        return [self.getreply() for _ in lines]

    def data(self, msg):
        """DATA, then the message as content() sends it (smtplib's own sends bare CR and LF as they are)."""
        self.putcmd("data")
        code, text = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, text)
        return self.content(msg)

    def content(self, data):
        """The message after DATA's 354: every line ending CRLF, dot-stuffed, ended by CRLF . CRLF; returns the
        reply. Only CRLF ends a line on the wire: a bare CR or LF next to a dot could end the message early at a
        next hop that reads it as a line ending, and what follows would be taken as commands (smuggling)."""
        stuffed = _crlf(data)
        stuffed = (b"." if stuffed.startswith(b".") else b"") + stuffed.replace(b"\r\n.", b"\r\n..")
        if stuffed and not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        self.send(stuffed + b".\r\n")
        return self.getreply()

    def getreply(self):
        code, text = super().getreply()
        self._in_auth = self._in_auth and code == 334
        self._log.write(RECEIVED, f"{code} {_text(text)}".replace("\n", " "))
        return code, text

    def close(self):
        if self.sock:
            self._log.write(DISCONNECT)
        super().close()


def _crlf(data):
    """`data` with every line ending CRLF; a stored message may hold bare LF or CR (accepted by an older version,
    or picked up from a folder)."""
    if data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n"):
        return data
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _reply(reply):
    code, text = reply
    return code, _text(text)


def _text(text):
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
