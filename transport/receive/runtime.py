"""What a running server needs besides its snapshot: the TLS context, logs and the queue store.

Built from a snapshot off the event loop; sessions keep the runtime they started with, so a reload never
changes the policy of an open session.
"""
import hashlib
import ssl
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from transport.dispatch import CategorizerHandoff
from transport.logs.protocol import ProtocolLog
from transport.logs.tracking import MessageTrackingLog
from transport.queue.store import MessageStore
from transport.receive.policy import select_connector
from transport.tls import load_certificate_chain


CONNECTOR_CACHE_SIZE = 10000


@dataclass(frozen=True)
class ServerRuntime:
    snapshot: object
    tls_context: ssl.SSLContext     # None: no certificate is enabled for SMTP, so no STARTTLS
    organization_fingerprints: frozenset
    legacy_fingerprints: frozenset      # legacy (Exchange 2003) servers' certificates: ExchangeLegacyServers
    protocol_log: ProtocolLog
    tracking_log: MessageTrackingLog
    store: MessageStore
    handoff: CategorizerHandoff     # accepted messages on their way to the categorizer, in batches
    certificate_facts: tuple    # (data, context) lines the protocol log shows when STARTTLS starts
    _connectors: dict = field(default_factory=dict, compare=False, repr=False)

    def connector_for(self, local_address, local_port, remote_address):
        """policy.select_connector for this configuration, remembered per endpoint and client address."""
        key = (local_address, local_port, remote_address)
        if key not in self._connectors:
            if len(self._connectors) >= CONNECTOR_CACHE_SIZE:
                self._connectors.clear()
            self._connectors[key] = select_connector(self.snapshot.enabled_connectors(), *key)
        return self._connectors[key]


def build_runtime(snapshot, previous=None):
    """Logs and store are kept from the previous runtime when their settings did not change; the hand-off to
    the categorizer always is."""
    same = previous is not None
    protocol_log = (previous.protocol_log if same and previous.snapshot.protocol_log == snapshot.protocol_log
                    else ProtocolLog(snapshot.protocol_log))
    tracking_log = (previous.tracking_log if same and previous.snapshot.tracking == snapshot.tracking
                    else MessageTrackingLog(snapshot.tracking, snapshot.fqdn))
    store = (previous.store if same and (previous.snapshot.queue_directory, previous.snapshot.queue_sync)
             == (snapshot.queue_directory, snapshot.queue_sync) else MessageStore(snapshot.queue_directory,
                                                                                  snapshot.queue_sync))
    if not same:
        # A receive process's first configuration: only this process spools into the folder, and the one it
        # replaces has died, so whatever spools are there were abandoned.
        store.discard_spools()
    return ServerRuntime(
        snapshot=snapshot, tls_context=server_tls_context(snapshot),
        organization_fingerprints=frozenset(fingerprint for fingerprint, _ in snapshot.organization_certificates),
        legacy_fingerprints=frozenset(fingerprint for fingerprint, _ in snapshot.legacy_certificates),
        protocol_log=protocol_log, tracking_log=tracking_log, store=store,
        handoff=previous.handoff if same else CategorizerHandoff(snapshot.name),
        certificate_facts=certificate_facts(snapshot.certificate_pem),
    )


def server_tls_context(snapshot):
    """STARTTLS with the server's certificate. Client certificates are asked for, not required: they prove a
    partner's domain (mutual TLS) or one of the organization's own servers (ExchangeServer authentication)."""
    if not snapshot.certificate_pem:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_certificate_chain(context, snapshot.certificate_pem, snapshot.private_key_pem)
    anchors = snapshot.trusted_roots_pem.decode() + "".join(
        pem for _, pem in snapshot.organization_certificates + snapshot.legacy_certificates)
    if anchors.strip():
        context.load_verify_locations(cadata=anchors)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def certificate_facts(certificate_pem):
    """What Exchange's protocol log says about the certificate it sends for STARTTLS."""
    if not certificate_pem:
        return ()
    leaf = x509.load_pem_x509_certificate(certificate_pem)
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    return (
        ("", "Sending certificate"),
        (leaf.subject.rfc4514_string(), "Certificate subject"),
        (leaf.issuer.rfc4514_string(), "Certificate issuer name"),
        (f"{leaf.serial_number:X}", "Certificate serial number"),
        (leaf.fingerprint(hashes.SHA1()).hex().upper(), "Certificate thumbprint"),
        (";".join(names), "Certificate alternate names"),
    )


def peer_fingerprint(ssl_object):
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return hashlib.sha256(der).hexdigest() if der else None
