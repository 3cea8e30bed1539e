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
