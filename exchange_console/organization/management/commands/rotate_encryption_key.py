"""`manage.py rotate_encryption_key`: re-encrypt every stored secret from the previous key to the configured one
(EXCHANGE_ENCRYPTION_KEY, or the key derived from SECRET_KEY), in one transaction."""
import os

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from exchange_console import secrets


class Command(BaseCommand):
    help = ("Re-encrypt the stored secrets (smart host passwords, certificate private keys) with the configured key, "
            "from the previous one. Stop the console and the transport workers first; start them with the new key.")
    requires_system_checks = []  # the stored-secrets check fails until this has run

    def add_arguments(self, parser):
        parser.add_argument("--old-secret-key", default=os.environ.get("EXCHANGE_OLD_SECRET_KEY", ""),
                            help="the previous SECRET_KEY, when EXCHANGE_ENCRYPTION_KEY was not set "
                                 "(default: $EXCHANGE_OLD_SECRET_KEY)")
        parser.add_argument("--old-encryption-key", default=os.environ.get("EXCHANGE_OLD_ENCRYPTION_KEY", ""),
                            help="the previous EXCHANGE_ENCRYPTION_KEY (default: $EXCHANGE_OLD_ENCRYPTION_KEY)")

    @transaction.atomic
    def handle(self, *args, old_secret_key, old_encryption_key, **options):
        old = _old_fernet(old_secret_key, old_encryption_key)
        count = sum(_reencrypt_field(model, field, old) for model, field in secrets.encrypted_fields())
        self.stdout.write(f"Re-encrypted {count} stored secrets with the configured key.")


def _old_fernet(old_secret_key, old_encryption_key):
    if bool(old_secret_key) == bool(old_encryption_key):
        raise CommandError("Give the previous key: --old-secret-key (the SECRET_KEY the secrets were encrypted "
                           "with, when EXCHANGE_ENCRYPTION_KEY was not set) or --old-encryption-key (the previous "
                           "EXCHANGE_ENCRYPTION_KEY), not both.")
    try:
        return secrets.fernet(old_encryption_key, old_secret_key)
    except ValueError:
        raise CommandError("--old-encryption-key is not a Fernet key (44 url-safe base64 characters).") from None


def _reencrypt_field(model, field, old):
    """The value an administrator sees is the same, only its encryption at rest changes: saved by update(),
    without a new version, an audit entry or a reload."""
    rows = model.objects.select_for_update().exclude(**{field: ""})
    for obj in rows:
        try:
            token = secrets.reencrypt(getattr(obj, field), old)
        except InvalidToken:
            raise CommandError(f"The {field} of {model.__name__} '{obj}' can't be decrypted with the old key or the "
                               f"configured one; nothing was changed.") from None
        model.objects.filter(pk=obj.pk).update(**{field: token})
    return len(rows)
