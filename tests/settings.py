"""Settings for the test suite: the real settings, with a fixed key so a bare `pytest` runs."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("SECURE_COOKIES", "false")  # the live test server speaks plain HTTP

from exchange_console.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for fixtures only

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file rather than memory: transport workers that tests start as subprocesses must see the same data.
    import tempfile  # noqa: E402

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"exchange-test-{os.getpid()}.sqlite3")}
