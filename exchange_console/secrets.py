"""Secrets at rest (smart host passwords, private keys): Fernet with a key from EXCHANGE_ENCRYPTION_KEY,
or derived from SECRET_KEY when that is not set, so a database dump alone does not reveal them."""
import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(key_material):
    if settings.EXCHANGE_ENCRYPTION_KEY:
        return Fernet(settings.EXCHANGE_ENCRYPTION_KEY.encode())
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"exchange-console secrets").derive(
        key_material.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext):
    return _fernet(settings.SECRET_KEY).encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token):
    if not token:
        return ""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret can't be decrypted with the configured key") from None
