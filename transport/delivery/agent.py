"""The delivery agents: they take one message to a next hop and say what became of each recipient, nothing more
(as Postfix's smtp agent does for its queue manager). Retry, expiry, failover and reports are the queue
manager's (transport.queue.manager).

SmtpAgent speaks SMTP to the smart hosts or MX hosts of a send connector, a new connection every
SmtpMaxMessagesPerConnection messages; DropAgent writes drop files for a foreign connector. Both return
{recipient: (code, text)}; an agent that cannot reach the next hop at all raises (ConnectFailure,
TransientRoutingError, PermanentRoutingError, DropDirectoryOutsideRoot, DropDirectoryQuotaExceeded)."""
from transport.delivery.dns import (
    PermanentRoutingError, TransientRoutingError, mx_hosts, resolver_for, smart_host_hosts,
)
from transport.delivery.drop import drop_directory, write_drop_file
from transport.delivery.smtp import ConnectFailure, SessionFailure, SmtpSession, tls_policy
from transport.logs.protocol import endpoint


class SmtpAgent:
    """Sessions with one next hop of a send connector, opened as the connector says."""

    def __init__(self, runtime, configuration, connector, domain):
        """domain: the recipient domain whose MX hosts are the next hop ('' for smart hosts)."""
        self.configuration, self.connector, self.domain = configuration, connector, domain
        self.contexts = runtime.client_contexts
        self.log_factory = _session_log_factory(runtime, connector)
        self.session = None

    def connect(self):
        """A session with the first host of the next hop that takes one (none: ConnectFailure)."""
        self.close()
        connector = self.connector
        resolver = resolver_for(self.configuration.server, connector)
        hosts = (smart_host_hosts(connector.smart_hosts, resolver) if connector.smart_hosts
                 else downgraded_dns_failures(connector, mx_hosts, self.domain, resolver))
        policy = tls_policy(connector, self.domain, self.configuration)
        errors = []
        for host in hosts:
            for address in host.addresses:
                session = SmtpSession(connector, policy, self.configuration, self.contexts, self.log_factory)
                try:
                    self.session = session.open(host.name, address, connector.port)
                    return
                except (OSError, SessionFailure) as error:
                    session.close()
                    errors.append(f"{host.name} [{endpoint(address, connector.port)}]: {error}")
        raise ConnectFailure("451 4.4.0 Primary target IP address responded with: "
                             + ("; ".join(errors) or f"no host found for {self.domain or connector.name}"))

    def deliver(self, envelope, recipients, content):
        """Send one message on the open session (a fresh one once this one carried its share)."""
        if self.session is None or self.session.messages_sent >= self.connector.smtp_max_messages_per_connection:
            self.connect()
        try:
            results = self.session.send(envelope.mail_from, recipients, content)
        except SessionFailure as error:
            results = {recipient: (error.code, error.text) for recipient in recipients}
        return apply_error_policies(self.connector.error_policies, results)

    @property
    def remote_address(self):
        client = self.session.client if self.session else None
        return client.sock.getpeername()[0] if client and client.sock else ""

    def track_sent(self, tracking, envelope, sent, results):
        """SEND in the message tracking log, with the next hop's replies."""
        tracking.event("SEND", envelope, recipients=sent, connector_id=self.connector.name,
                       server_ip=self.remote_address,
                       recipient_status=[f"{results[r][0]} {results[r][1]}" for r in sent],
                       directionality="Originating")

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = None


# ErrorPolicies (several may apply; Default is none of them), for connectors to reliable partners:
# DowngradeDnsFailures: a domain DNS says doesn't exist is retried until the message expires, not returned at once
# (a null MX stays final: that is the domain's own answer, not a failure). DowngradeCustomFailures: a permanent
# reply from the next hop is retried, unless it is about the address (5.1.x: no such user, bad address).
# UpgradeCustomFailures: a transient reply from the next hop fails at once (an NDR instead of retries); a host
# that can't be reached is still retried.
DNS_DOES_NOT_EXIST = "5.4.4"


def downgraded_dns_failures(connector, lookup, domain, resolver):
    try:
        return lookup(domain, resolver)
    except PermanentRoutingError as error:
        if "DowngradeDnsFailures" in connector.error_policies and error.status == DNS_DOES_NOT_EXIST:
            raise TransientRoutingError(f"{error.text} (retried: ErrorPolicies DowngradeDnsFailures)") from None
        raise


def apply_error_policies(policies, results):
    """{recipient: (code, text)} as the connector's ErrorPolicies have the queue take them."""
    if not policies:
        return results
    return {recipient: _with_policies(policies, code, text) for recipient, (code, text) in results.items()}


def _with_policies(policies, code, text):
    if "DowngradeCustomFailures" in policies and 500 <= code < 600 and not text.startswith("5.1."):
        return code - 100, "4" + text[1:] if text[:2] == "5." else text
    if "UpgradeCustomFailures" in policies and 400 <= code < 500:
        return code + 100, "5" + text[1:] if text[:2] == "4." else text
    return code, text


def _session_log_factory(runtime, connector):
    if connector.protocol_logging_level != "Verbose":
        return None
    protocol_log = runtime.send_protocol_log()
    return lambda local, remote: protocol_log.session(connector.name, local, remote)


class DropAgent:
    """Drop files in a foreign connector's folder under RootDropDirectoryPath."""

    remote_address = ""

    def __init__(self, configuration, connector):
        self.connector = connector
        self.folder = drop_directory(configuration.server.drop_root, connector)   # DropDirectoryOutsideRoot

    def track_sent(self, tracking, envelope, sent, results):
        """TRANSFER to the gateway, as Exchange logs a drop file."""
        tracking.event("TRANSFER", envelope, recipients=sent, connector_id=self.connector.name, source="GATEWAY",
                       related_recipient_address=str(self.folder), directionality="Originating")

    def deliver(self, envelope, recipients, content):
        write_drop_file(self.folder, self.connector.drop_directory_quota, envelope.message_id, envelope.mail_from,
                        recipients, content)
        return {recipient: (250, "2.0.0 Written to the drop directory") for recipient in recipients}
