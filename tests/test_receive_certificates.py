"""Server certificates for STARTTLS: a self-signed one at server creation, PEM import and enabling for SMTP,
private keys encrypted at rest."""
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings

from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.certificates.services import enable_certificate, import_certificate
from exchange_console.services import ConfigurationError
from tests.shell_helpers import ems


def test_it_gives_a_new_server_a_self_signed_certificate_enabled_for_smtp(hub):
    (certificate,) = ExchangeCertificate.objects.filter(server=hub)
    assert certificate.services == "SMTP" and certificate.is_self_signed
    assert certificate.subject == "CN=HUB01"
    assert certificate.certificate_domains == ["HUB01", "hub01.contoso.com"]
    parsed = x509.load_pem_x509_certificate(certificate.certificate_pem.encode())
    assert (parsed.not_valid_after_utc - parsed.not_valid_before_utc).days >= 5 * 365
    assert certificate.thumbprint == parsed.fingerprint(hashes.SHA1()).hex().upper()


def test_it_keeps_private_keys_encrypted_at_rest(hub):
    certificate = ExchangeCertificate.objects.get(server=hub)
    assert "PRIVATE KEY" not in certificate.private_key_encrypted
    key = serialization.load_pem_private_key(certificate.private_key_pem(), password=None)
    public = x509.load_pem_x509_certificate(certificate.certificate_pem.encode()).public_key()
    assert key.public_key().public_numbers() == public.public_numbers()


def test_it_imports_a_pem_certificate_and_enables_it_for_smtp_in_place_of_the_old_one(hub):
    issued = trustme.CA().issue_cert("mail.contoso.com")
    imported = import_certificate(hub, issued.private_key_and_cert_chain_pem.bytes())
    assert imported.services == "SMTP" and not imported.is_self_signed
    assert imported.certificate_domains == ["mail.contoso.com"]
    assert list(ExchangeCertificate.objects.filter(server=hub, services="SMTP")) == [imported]
    self_signed = ExchangeCertificate.objects.get(server=hub, is_self_signed=True)
    assert self_signed.services == "None"
    enable_certificate(self_signed)
    assert ExchangeCertificate.objects.get(pk=imported.pk).services == "None"


def test_it_refuses_a_pem_without_its_matching_private_key(hub):
    ca = trustme.CA()
    certificate = ca.issue_cert("mail.contoso.com").cert_chain_pems[0].bytes()
    other_key = ca.issue_cert("other.contoso.com").private_key_pem.bytes()
    with pytest.raises(ConfigurationError, match="The data doesn't contain an unencrypted private key."):
        import_certificate(hub, certificate)
    with pytest.raises(ConfigurationError, match="The private key doesn't match the certificate."):
        import_certificate(hub, certificate + other_key)
    assert ExchangeCertificate.objects.filter(server=hub).count() == 1


def test_it_lists_imports_and_enables_certificates_in_the_shell(hub):
    issued = trustme.CA().issue_cert("mail.contoso.com")
    path = settings.EMS_FILE_ROOT / "C" / "certs" / "mail.pem"  # C:\certs\mail.pem in the shell
    path.parent.mkdir(parents=True, exist_ok=True)
    issued.private_key_and_cert_chain_pem.write_to_path(str(path))
    ems("Import-ExchangeCertificate -Server HUB01 -Path 'C:\\certs\\mail.pem'")
    imported = ExchangeCertificate.objects.get(server=hub, is_self_signed=False)
    assert imported.services == "None"
    ems(f"Enable-ExchangeCertificate -Thumbprint {imported.thumbprint} -Services SMTP -Server HUB01")
    assert ExchangeCertificate.objects.get(server=hub, services="SMTP") == imported
    listing = ems("Get-ExchangeCertificate -Server HUB01 | Format-List")
    assert f"Thumbprint         : {imported.thumbprint}" in listing
    assert "CertificateDomains : mail.contoso.com" in listing
    assert "Services           : SMTP" in listing
