"""Get-, Import- and Enable-ExchangeCertificate: the server certificate that STARTTLS presents."""
from exchange_console.certificates import services
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.certificates.schemas import EXCHANGE_CERTIFICATE
from exchange_console.organization.models import TransportServer
from exchange_console.shell import files
from exchange_console.shell.errors import ObjectNotFoundError, ParameterBindingError
from exchange_console.shell.registry import Parameter, cmdlet
from exchange_console.shell.values import ConfigRecord, to_string

SERVER = Parameter("Server")


def _server(invocation):
    """-Server, or the only transport server of the organization."""
    if "Server" in invocation:
        name = to_string(invocation.get("Server"))
        server = TransportServer.objects.filter(name__iexact=name).first()
        if server is None:
            raise ObjectNotFoundError(name, "the transport servers of this organization")
        return server
    servers = list(TransportServer.objects.all()[:2])
    if len(servers) != 1:
        raise ParameterBindingError("Specify the server with the -Server parameter.")
    return servers[0]


def _certificate(identity, invocation):
    if isinstance(identity, ConfigRecord) and isinstance(identity.obj, ExchangeCertificate):
        return identity.obj
    text = to_string(identity)
    server_name, _, thumbprint = text.rpartition("\\")
    found = ExchangeCertificate.objects.select_related("server").filter(thumbprint__iexact=thumbprint)
    found = found.filter(server__name__iexact=server_name) if server_name else found.filter(
        server=_server(invocation))
    certificate = found.first()
    if certificate is None:
        raise ObjectNotFoundError(text, "the certificates of this server")
    return certificate


@cmdlet("Get-ExchangeCertificate", Parameter("Thumbprint", position=0, pipeline=True), SERVER)
def get_exchange_certificate(invocation):
    if "Thumbprint" in invocation or invocation.input is not None:
        return [ConfigRecord(EXCHANGE_CERTIFICATE, _certificate(identity, invocation))
                for identity in invocation.each("Thumbprint")]
    certificates = ExchangeCertificate.objects.select_related("server")
    if "Server" in invocation:
        certificates = certificates.filter(server=_server(invocation))
    return [ConfigRecord(EXCHANGE_CERTIFICATE, certificate) for certificate in certificates]


@cmdlet("Import-ExchangeCertificate", Parameter("FileData", position=0), Parameter("Path"), SERVER)
def import_exchange_certificate(invocation):
    """PEM (certificate, chain and unencrypted private key) as -FileData, text or the byte[] scripts read with
    [System.IO.File]::ReadAllBytes or Get-Content -Encoding Byte; or a PEM file as -Path (in the shell's files)."""
    if "Path" in invocation:
        data = files.read_bytes(to_string(invocation.get("Path")))
    elif "FileData" in invocation:
        data = _file_data(invocation.get("FileData"))
    else:
        raise ParameterBindingError("Specify the certificate with -FileData or -Path.")
    certificate = services.import_certificate(_server(invocation), data, enable_smtp=False)
    return [ConfigRecord(EXCHANGE_CERTIFICATE, certificate)]


def _file_data(value):
    if isinstance(value, list) and all(isinstance(item, int) and 0 <= item <= 255 for item in value):
        return bytes(value)
    return to_string(value).encode()


@cmdlet("Enable-ExchangeCertificate", Parameter("Thumbprint", position=0, pipeline=True, mandatory=True),
        Parameter("Services", mandatory=True), SERVER)
def enable_exchange_certificate(invocation):
    wanted = {to_string(service).strip().upper() for service in _values(invocation.get("Services"))}
    if wanted != {"SMTP"}:
        raise ParameterBindingError("Cannot bind parameter 'Services'. This server enables certificates for "
                                    "SMTP only.")
    for identity in invocation.each("Thumbprint"):
        services.enable_certificate(_certificate(identity, invocation))
    return []


def _values(value):
    if isinstance(value, (list, tuple)):
        return value
    return str(value).split(",")
