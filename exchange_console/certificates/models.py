"""Exchange certificates of transport servers (Get-ExchangeCertificate): the one enabled for SMTP is what
STARTTLS presents and what the organization's servers recognize each other by (ExchangeServer auth)."""
from django.db import models

from exchange_console import secrets
from exchange_console.organization.models import TransportServer


class ExchangeCertificate(models.Model):
    server = models.ForeignKey(TransportServer, on_delete=models.CASCADE, related_name="certificates")
    thumbprint = models.CharField(max_length=40)              # SHA-1, upper-case hex, as Exchange shows it
    thumbprint_sha256 = models.CharField(max_length=64)
    subject = models.CharField(max_length=512)
    certificate_domains = models.JSONField(default=list)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    is_self_signed = models.BooleanField(default=False)
    services = models.CharField(max_length=64, default="None")  # 'SMTP' when enabled for SMTP
    certificate_pem = models.TextField()                       # the certificate, then its chain
    private_key_encrypted = models.TextField()

    class Meta:
        ordering = ["server__name", "not_before"]
        constraints = [models.UniqueConstraint(fields=["server", "thumbprint"], name="certificate_per_server")]

    @property
    def identity(self):
        return f"{self.server.name}\\{self.thumbprint}"

    def __str__(self):
        return self.identity

    def private_key_pem(self):
        return secrets.decrypt(self.private_key_encrypted).encode()


TRUSTED_ROOTS_FOLDER = "TrustedRootCertificates"   # in each server's data folder


def trusted_roots_pem(server):
    """The server's trusted root certificates for verifying client certificates (mutual TLS): every PEM file
    in TrustedRootCertificates in its data folder."""
    folder = server.resolve_path(TRUSTED_ROOTS_FOLDER)
    return b"".join(path.read_bytes() for path in sorted(folder.glob("*.pem"))) if folder.is_dir() else b""
