"""The Edge subscription file, as Exchange writes it (`<EdgeSubscriptionData>` XML): the Edge's name and FQDN, its
certificate, the bootstrap account the Hubs authenticate with until their first push, when that account stops
working, and how the organization reaches the Edge (its SMTP port, and AdamSslPort: its EdgeSync listener)."""
import base64
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

MAX_FILE_SIZE = 64 * 1024   # a subscription file is a few KB; anything bigger isn't one
ROOT = "EdgeSubscriptionData"


class SubscriptionFileError(ValueError):
    pass


@dataclass(frozen=True)
class SubscriptionFile:
    edge_name: str
    edge_fqdn: str
    certificate_pem: str
    account: str
    password: str
    effective: datetime
    duration: timedelta
    edgesync_port: int
    smtp_port: int

    @property
    def expires(self):
        return self.effective + self.duration

    def to_xml(self):
        der = x509.load_pem_x509_certificate(self.certificate_pem.encode()).public_bytes(serialization.Encoding.DER)
        root = ElementTree.Element(ROOT)
        for tag, value in (("EdgeServerName", self.edge_name), ("EdgeServerFQDN", self.edge_fqdn),
                           ("EdgeCertificateBlob", base64.b64encode(der).decode()),
                           ("ESRAUsername", self.account), ("ESRAPassword", self.password),
                           ("EffectiveDate", self.effective.isoformat()),
                           ("Duration", str(int(self.duration.total_seconds()))),
                           ("AdamSslPort", str(self.edgesync_port)), ("SmtpPort", str(self.smtp_port)),
                           ("ServerType", "Edge"), ("VersionNumber", "14.3")):
            ElementTree.SubElement(root, tag).text = value
        ElementTree.indent(root)
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="utf-8") + b"\n"


def parse(data):
    """The file's contents (bytes), or SubscriptionFileError saying what is wrong with them. The standard
    library's expat refuses external entities and caps entity expansion; the size cap comes first."""
    if len(data) > MAX_FILE_SIZE:
        raise SubscriptionFileError(f"The file is {len(data)} bytes long; an Edge subscription file is at most "
                                    f"{MAX_FILE_SIZE} bytes.")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise SubscriptionFileError(f"The file isn't an Edge subscription file: {error}.") from None
    if root.tag != ROOT:
        raise SubscriptionFileError(f"The file isn't an Edge subscription file: its root element is <{root.tag}>, "
                                    f"not <{ROOT}>.")
    text = {child.tag: (child.text or "").strip() for child in root}
    missing = [tag for tag in ("EdgeServerName", "EdgeServerFQDN", "EdgeCertificateBlob", "ESRAUsername",
                               "ESRAPassword", "EffectiveDate", "Duration") if not text.get(tag)]
    if missing:
        raise SubscriptionFileError(f"The Edge subscription file lacks {', '.join(missing)}.")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(text["EdgeCertificateBlob"], validate=True))
        effective = datetime.fromisoformat(text["EffectiveDate"])
        duration = timedelta(seconds=int(text["Duration"]))
        ports = int(text.get("AdamSslPort") or 50636), int(text.get("SmtpPort") or 25)
    except ValueError as error:
        raise SubscriptionFileError(f"The Edge subscription file is damaged: {error}.") from None
    if effective.tzinfo is None or not all(0 < port < 65536 for port in ports):
        raise SubscriptionFileError("The Edge subscription file is damaged: its date or ports aren't valid.")
    return SubscriptionFile(
        edge_name=text["EdgeServerName"], edge_fqdn=text["EdgeServerFQDN"],
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(), account=text["ESRAUsername"],
        password=text["ESRAPassword"], effective=effective, duration=duration, edgesync_port=ports[0],
        smtp_port=ports[1])
