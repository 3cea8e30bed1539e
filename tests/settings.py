"""Settings for the test suite: the real settings, with a fixed key so a bare `pytest` runs."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")

from exchange_console.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for fixtures only
