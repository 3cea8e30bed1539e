"""Exchange certificates as Get-ExchangeCertificate shows them (read-only properties; Import- and
Enable-ExchangeCertificate change them through certificates.services)."""
from exchange_console import params as p
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.schema import ObjectSchema, read_only


EXCHANGE_CERTIFICATE = ObjectSchema(
    noun="ExchangeCertificate",
    model=ExchangeCertificate,
    params=[
        read_only("Identity", "identity", getter=lambda certificate: certificate.identity),
        read_only("Server", "server", getter=lambda certificate: certificate.server.name),
        read_only("Thumbprint", "thumbprint"),
        read_only("Services", "services"),
        read_only("Subject", "subject"),
        read_only("CertificateDomains", "certificate_domains",
              getter=lambda certificate: ", ".join(certificate.certificate_domains)),
        read_only("IsSelfSigned", "is_self_signed", p.Bool()),
        read_only("NotBefore", "not_before", p.DateTime()),
        read_only("NotAfter", "not_after", p.DateTime()),
    ],
    default_columns=("Thumbprint", "Services", "Subject"),
)
