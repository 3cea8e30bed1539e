"""Issue, import and enable server certificates (New-/Import-/Enable-ExchangeCertificate)."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.db import transaction

from exchange_console import secrets
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.lib.errors import ParameterError
from exchange_console.certificates.schemas import EXCHANGE_CERTIFICATE
from exchange_console.services import ConfigurationError, audited, authorize, notify_servers

SELF_SIGNED_VALIDITY = datetime.timedelta(days=5 * 365)   # Exchange 2010's self-signed certificate: 5 years


def issue_certificate_at_creation(sender, instance, created, **kwargs):
    """Exchange setup gives every transport server a self-signed certificate enabled for SMTP. A server of the
    other side (an Edge in the organization's database, a Hub in an Edge's) brings its own, without its key."""
    if created and sender.objects.local().filter(pk=instance.pk).exists():
        new_self_signed_certificate(instance)


def trust_certificate(server, pem):
    """Store the certificate of a server of the other side (without a key): what Direct Trust between an
    organization and its Edge rests on; the servers of both accept it for ExchangeServer authentication."""
    chain = x509.load_pem_x509_certificates(pem.encode() if isinstance(pem, str) else pem)
    return _store(server, chain, None, enable=False, services="SMTP")


def new_self_signed_certificate(server):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server.name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + SELF_SIGNED_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server.name), x509.DNSName(server.fqdn)]),
                       critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return _store(server, [certificate], key, enable=True)


def import_certificate(server, pem, enable_smtp=True):
    """Import-ExchangeCertificate from PEM text holding the certificate, its chain and its private key;
    authorized (a server object: Server Management of that server may) and audited like every change."""
    return audited("Import", EXCHANGE_CERTIFICATE, None, {"Server": server.name},
                   lambda: _import_certificate(server, pem, enable_smtp))


@transaction.atomic
def _import_certificate(server, pem, enable_smtp):
    authorize("Import", EXCHANGE_CERTIFICATE, ExchangeCertificate(server=server))
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigurationError([ParameterError("FileData", "The data doesn't contain a PEM certificate.")])
    try:
        key = serialization.load_pem_private_key(_private_key_block(data), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError([ParameterError("FileData", "The data doesn't contain an unencrypted private key.")])
    if chain[0].public_key().public_numbers() != key.public_key().public_numbers():
        raise ConfigurationError([ParameterError("FileData", "The private key doesn't match the certificate.")])
    return _store(server, chain, key, enable=enable_smtp)


def enable_certificate(certificate, services="SMTP"):
    """Enable-ExchangeCertificate -Services SMTP: this certificate replaces the server's current one."""
    return audited("Enable", EXCHANGE_CERTIFICATE, certificate, {"Services": services},
                   lambda: _enable_certificate(certificate, services))


@transaction.atomic
def _enable_certificate(certificate, services):
    authorize("Enable", EXCHANGE_CERTIFICATE, certificate)
    ExchangeCertificate.objects.filter(server=certificate.server, services="SMTP").exclude(
        pk=certificate.pk).update(services="None")
    certificate.services = services
    certificate.save(update_fields=["services"])
    notify_servers(_SERVERS_OF_CERTIFICATE, certificate)
    return certificate


class _ServersOfCertificate:
    """What notify_servers needs from a schema: every server recognizes the others by their certificates."""
    @staticmethod
    def affected_servers(certificate):
        return type(certificate.server).objects.all()


_SERVERS_OF_CERTIFICATE = _ServersOfCertificate()


def _private_key_block(data):
    start = data.find(b"-----BEGIN ")
    while start != -1 and b"PRIVATE KEY-----" not in data[start:data.find(b"\n", start)]:
        start = data.find(b"-----BEGIN ", start + 1)
    return data[start:] if start != -1 else b""


def _store(server, chain, key, enable, services=None):
    leaf = chain[0]
    try:
        domains = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        domains = []
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode() if key else ""
    certificate, _ = ExchangeCertificate.objects.update_or_create(
        server=server, thumbprint=leaf.fingerprint(hashes.SHA1()).hex().upper(), defaults={
            "thumbprint_sha256": leaf.fingerprint(hashes.SHA256()).hex(),
            "subject": leaf.subject.rfc4514_string(), "certificate_domains": domains,
            "not_before": leaf.not_valid_before_utc, "not_after": leaf.not_valid_after_utc,
            "is_self_signed": leaf.issuer == leaf.subject,
            "certificate_pem": "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
            "private_key_encrypted": secrets.encrypt(key_pem) if key_pem else "",
            **({"services": services} if services else {}),
        })
    return enable_certificate(certificate) if enable else certificate
