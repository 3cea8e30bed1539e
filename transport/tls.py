"""TLS helpers that the receive side (STARTTLS) and the send side (mutual TLS) share."""
import os
import tempfile


def load_certificate_chain(context, certificate_pem, private_key_pem):
    # ssl only loads keys from files: a private temporary file that exists only while loading.
    descriptor, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(certificate_pem + b"\n" + private_key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


def certificate_names(peer_certificate):
    """The DNS names a peer certificate (ssl getpeercert() dict) is for: its SAN DNS names, else (a certificate
    without any) its subject's common names, as RFC 6125 allows."""
    names = [value for kind, value in peer_certificate.get("subjectAltName", ()) if kind == "DNS"]
    if not names:
        names = [value for rdn in peer_certificate.get("subject", ()) for key, value in rdn if key == "commonName"]
    return [name.lower() for name in names]


def certificate_matches(peer_certificate, name):
    """RFC 6125: a name of the certificate equals `name`, or is a wildcard for its parent ('*.contoso.com' names
    mail.contoso.com, not contoso.com nor a.b.contoso.com). A `name` like '*.contoso.com' (a send connector's
    TlsDomain) accepts a certificate for any name under contoso.com."""
    if not peer_certificate:
        return False
    names, name = certificate_names(peer_certificate), name.lower()
    if name.startswith("*."):
        return any(candidate.endswith(name[1:]) for candidate in names)
    parent = name.partition(".")[2]
    return any(candidate == name or (candidate.startswith("*.") and candidate[2:] == parent) for candidate in names)
