"""The key that encrypts secrets at rest: a changed SECRET_KEY stops start-up with what to do, and
`manage.py rotate_encryption_key` re-encrypts every stored secret so the transport reads them with the new key."""
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509 import load_pem_x509_certificate
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from exchange_console import secrets
from exchange_console.certificates.models import ExchangeCertificate
from exchange_console.connectors.models import SendConnector
from exchange_console.connectors.schemas import SEND_CONNECTOR
from exchange_console.organization import setup
from exchange_console.services import new_object
from transport.snapshot import build_send_snapshot, build_snapshot

ROOT = Path(__file__).resolve().parent.parent
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
CHANGED_SECRET_KEY = ("The stored secrets (smart host passwords, certificate private keys) can't be decrypted: "
                      "EXCHANGE_ENCRYPTION_KEY is not set, so their key is derived from SECRET_KEY, and SECRET_KEY "
                      "has changed since they were encrypted.")
WHAT_TO_DO = ("HINT: Set SECRET_KEY and EXCHANGE_ENCRYPTION_KEY back to the values they had, or keep the new ones "
              "and re-encrypt the secrets once with `manage.py rotate_encryption_key --old-secret-key OLD`")


def manage(tmp_path, *args, secret_key):
    """`manage.py ARGS` on an organization of its own (SQLite and data folder in tmp_path)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "EXCHANGE_ENCRYPTION_KEY")}
    environment.update({"DJANGO_SETTINGS_MODULE": "exchange_console.settings", "EXCHANGE_DATA_DIR": str(tmp_path),
                        "SECRET_KEY": secret_key})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=120)


def test_it_stops_start_up_naming_both_keys_when_secret_key_changed(tmp_path):
    for command in (["migrate", "-v", "0"], ["seed_demo"]):
        assert manage(tmp_path, *command, secret_key="first-secret-key").returncode == 0
    assert manage(tmp_path, "check", secret_key="first-secret-key").returncode == 0

    for command in (["check"], ["transport", "--server", "HUB01"], ["migrate"]):
        result = manage(tmp_path, *command, secret_key="second-secret-key")
        assert result.returncode == 1, (command, result.stderr)
        assert f"(exchange_console.E001) {CHANGED_SECRET_KEY}" in result.stderr, command
        assert WHAT_TO_DO in result.stderr, command

    rotated = manage(tmp_path, "rotate_encryption_key", "--old-secret-key", "first-secret-key",
                     secret_key="second-secret-key")
    assert rotated.stdout == "Re-encrypted 1 stored secrets with the configured key.\n", rotated.stderr
    assert manage(tmp_path, "check", secret_key="second-secret-key").returncode == 0


def test_it_names_the_encryption_key_when_that_one_changed(settings, hub):
    settings.EXCHANGE_ENCRYPTION_KEY = NEW_KEY
    with pytest.raises(SystemCheckError, match="can't be decrypted with EXCHANGE_ENCRYPTION_KEY: they were "
                                               r"encrypted with another key \(or, before EXCHANGE_ENCRYPTION_KEY was "
                                               r"set, with one derived from SECRET_KEY\)"):
        call_command("check")


def test_a_fresh_database_passes_the_check(db):
    call_command("check")


@pytest.fixture
def stored_secrets(settings, organization):
    """A server (its certificate's private key) and a smart host password, encrypted with the old key."""
    settings.SECRET_KEY, settings.EXCHANGE_ENCRYPTION_KEY = "old-secret-key", ""
    setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name")
    new_object(SEND_CONNECTOR, {
        "Name": "ISP", "AddressSpaces": "*", "SmartHosts": "smtp.isp.example", "DNSRoutingEnabled": False,
        "SmartHostAuthMechanism": "BasicAuth", "AuthenticationCredential": ("relay", "Sup3r-S3cret")})
    return {"private_key": ExchangeCertificate.objects.get().private_key_pem()}


@pytest.mark.parametrize("new_keys, old_key", [
    ({"SECRET_KEY": "new-secret-key"}, ["--old-secret-key", "old-secret-key"]),
    ({"EXCHANGE_ENCRYPTION_KEY": NEW_KEY}, ["--old-secret-key", "old-secret-key"]),
    ({"EXCHANGE_OLD_SECRET_KEY": "old-secret-key", "SECRET_KEY": "new-secret-key"}, []),
], ids=["new SECRET_KEY", "a key of its own", "old key from the environment"])
def test_it_rotates_every_stored_secret_to_the_new_key(settings, monkeypatch, stored_secrets, new_keys, old_key):
    if "EXCHANGE_OLD_SECRET_KEY" in new_keys:
        monkeypatch.setenv("EXCHANGE_OLD_SECRET_KEY", new_keys.pop("EXCHANGE_OLD_SECRET_KEY"))
    for name, value in new_keys.items():
        setattr(settings, name, value)
    with pytest.raises(SystemCheckError, match="exchange_console.E001"):
        call_command("check")

    out = io.StringIO()
    call_command("rotate_encryption_key", *old_key, stdout=out)
    assert out.getvalue() == "Re-encrypted 2 stored secrets with the configured key.\n"
    call_command("check")
    [connector] = build_send_snapshot("HUB01").send_connectors
    assert connector.authentication_credential == ("relay", "Sup3r-S3cret")
    snapshot = build_snapshot("HUB01")
    assert snapshot.private_key_pem == stored_secrets["private_key"]
    assert (load_pem_private_key(snapshot.private_key_pem, None).public_key()
            == load_pem_x509_certificate(snapshot.certificate_pem).public_key())


def test_it_rotates_from_one_encryption_key_to_another(settings, organization):
    settings.EXCHANGE_ENCRYPTION_KEY = OLD_KEY
    setup.install_transport_server("HUB01", "hub01.contoso.com", "Default-First-Site-Name")
    settings.EXCHANGE_ENCRYPTION_KEY = NEW_KEY
    call_command("rotate_encryption_key", "--old-encryption-key", OLD_KEY, stdout=io.StringIO())
    call_command("check")
    assert build_snapshot("HUB01").private_key_pem.startswith(b"-----BEGIN")


def test_it_changes_nothing_when_a_secret_decrypts_with_neither_key(settings, stored_secrets):
    ExchangeCertificate.objects.update(private_key_encrypted=secrets.fernet("", "a-third-key").encrypt(b"k").decode())
    before = stored_tokens()
    settings.SECRET_KEY = "new-secret-key"
    with pytest.raises(CommandError, match=r"The private_key_encrypted of ExchangeCertificate 'HUB01\\[0-9A-F]{40}' "
                                           r"can't be decrypted with the old key or the configured one; nothing "
                                           r"was changed."):
        call_command("rotate_encryption_key", "--old-secret-key", "old-secret-key")
    assert stored_tokens() == before     # the smart host password, re-encrypted first, was rolled back too


def stored_tokens():
    return (list(SendConnector.objects.values_list("auth_password_encrypted", flat=True))
            + list(ExchangeCertificate.objects.values_list("private_key_encrypted", flat=True)))


@pytest.mark.parametrize("arguments, message", [
    ([], "Give the previous key: --old-secret-key"),
    (["--old-secret-key", "a", "--old-encryption-key", OLD_KEY], "Give the previous key"),
    (["--old-encryption-key", "short"], "--old-encryption-key is not a Fernet key"),
])
def test_it_refuses_a_missing_or_bad_old_key(db, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("rotate_encryption_key", *arguments)
