"""Settings for the test suite: the real settings, with a fixed key so a bare `pytest` runs."""
import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("SECURE_COOKIES", "false")  # the live test server speaks plain HTTP
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
if not os.environ.get("EXCHANGE_DATA_DIR"):
    # A data folder (queue stores, logs, the filesystem broker) of this run's own, so that test runs never see
    # each other's messages; the transport workers a test starts inherit it through the environment.
    import atexit
    import shutil
    import tempfile

    os.environ["EXCHANGE_DATA_DIR"] = tempfile.mkdtemp(prefix="exchange-tests-")
    atexit.register(shutil.rmtree, os.environ["EXCHANGE_DATA_DIR"], ignore_errors=True)

from exchange_console.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing for fixtures only

# The suite runs with DEBUG off but without collectstatic: plain file names, served from STATICFILES_DIRS as
# with DEBUG (tests/test_deploy_web.py collects and serves the hashed ones as production does).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file rather than memory: transport workers that tests start as subprocesses must see the same data.
    import tempfile  # noqa: E402

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"exchange-test-{os.getpid()}.sqlite3")}
