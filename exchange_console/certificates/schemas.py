"""Exchange certificates as Get-ExchangeCertificate shows them (read-only properties; Import- and
Enable-ExchangeCertificate change them through certificates.services)."""
from exchange_console import params as p
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.schema import ObjectSchema, Param


def shown(name, field, param_type=None, getter=None):
    return Param(name, field, param_type or p.String(), settable=False, getter=getter)


EXCHANGE_CERTIFICATE = ObjectSchema(
    noun="ExchangeCertificate",
    model=ExchangeCertificate,
    params=[
        shown("Identity", "identity", getter=lambda certificate: certificate.identity),
        shown("Thumbprint", "thumbprint"),
        shown("Services", "services"),
        shown("Subject", "subject"),
        shown("CertificateDomains", "certificate_domains",
              getter=lambda certificate: ", ".join(certificate.certificate_domains)),
        shown("IsSelfSigned", "is_self_signed", p.Bool()),
        shown("NotBefore", "not_before", getter=lambda certificate: certificate.not_before.isoformat()),
        shown("NotAfter", "not_after", getter=lambda certificate: certificate.not_after.isoformat()),
    ],
    default_columns=("Thumbprint", "Services", "Subject"),
)
