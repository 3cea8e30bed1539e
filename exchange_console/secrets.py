"""Secrets at rest (smart host passwords, private keys): Fernet with a key from EXCHANGE_ENCRYPTION_KEY,
or derived from SECRET_KEY when that is not set, so a database dump alone does not reveal them.

Every model field that holds encrypt()'s output is named `*_encrypted`: the start-up check and
`manage.py rotate_encryption_key` find them by that name."""
import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@lru_cache(maxsize=4)
def fernet(encryption_key="", secret_key=""):
    """The Fernet of EXCHANGE_ENCRYPTION_KEY, or of the key derived from SECRET_KEY when that is empty."""
    if encryption_key:
        return Fernet(encryption_key.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"exchange-console secrets").derive(
        secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _configured():
    return fernet(settings.EXCHANGE_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plaintext):
    return _configured().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token):
    if not token:
        return ""
    try:
        return _configured().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret can't be decrypted with the configured key") from None


def reencrypt(token, old):
    """The token encrypted with the configured key, from the old Fernet (or the configured one, for a token
    already rotated); InvalidToken when neither decrypts it."""
    return MultiFernet([_configured(), old]).rotate(token.encode()).decode()


def encrypted_fields():
    """(model, field name) of every column that holds encrypt()'s output."""
    return [(model, field.name) for model in apps.get_models() for field in model._meta.concrete_fields
            if field.name.endswith("_encrypted")]


def check_stored_secrets(app_configs=None, **kwargs):
    """System check (runserver, migrate, the transport worker, `manage.py check`): a stored secret of each kind
    decrypts with the configured key, so a changed SECRET_KEY stops start-up saying what to do, instead of a
    transport worker failing later when it builds its configuration."""
    for model, field in encrypted_fields():
        try:
            token = model.objects.exclude(**{field: ""}).values_list(field, flat=True).first()
        except DatabaseError:  # not migrated yet: nothing is stored
            return []
        try:
            if token:
                decrypt(token)
        except ValueError:
            return [checks.Critical(_wrong_key_message(), hint=_wrong_key_hint(), id="exchange_console.E001")]
    return []


def _wrong_key_message():
    if settings.EXCHANGE_ENCRYPTION_KEY:
        return ("The stored secrets (smart host passwords, certificate private keys) can't be decrypted with "
                "EXCHANGE_ENCRYPTION_KEY: they were encrypted with another key (or, before EXCHANGE_ENCRYPTION_KEY "
                "was set, with one derived from SECRET_KEY).")
    return ("The stored secrets (smart host passwords, certificate private keys) can't be decrypted: "
            "EXCHANGE_ENCRYPTION_KEY is not set, so their key is derived from SECRET_KEY, and SECRET_KEY has "
            "changed since they were encrypted.")


def _wrong_key_hint():
    return ("Set SECRET_KEY and EXCHANGE_ENCRYPTION_KEY back to the values they had, or keep the new ones and "
            "re-encrypt the secrets once with `manage.py rotate_encryption_key --old-secret-key OLD` (the previous "
            "SECRET_KEY, when EXCHANGE_ENCRYPTION_KEY was not set) or `--old-encryption-key OLD` (the previous "
            "EXCHANGE_ENCRYPTION_KEY).")
