"""Django settings for Exchange Console; every value that varies comes from the environment (env.py)."""
import logging
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

from exchange_console.env import (
    ImproperlyConfigured, env_bool, env_int, env_list, env_path, env_str, env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
EXCHANGE_DATA_DIR = env_path("EXCHANGE_DATA_DIR", BASE_DIR / "data")
EXCHANGE_DATA_DIR.mkdir(parents=True, exist_ok=True)
# The folder the shell's C:\..., \\server\share\... and relative paths map onto (shell/files.py).
EMS_FILE_ROOT = env_path("EMS_FILE_ROOT", EXCHANGE_DATA_DIR / "Files")

_DEV_SECRET = "insecure-development-key-set-SECRET_KEY-in-production"
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")

# Encrypts secrets at rest (Fernet key, 44 url-safe base64 characters); derived from SECRET_KEY when empty.
EXCHANGE_ENCRYPTION_KEY = env_str("EXCHANGE_ENCRYPTION_KEY", "")
# ...or read from a file (mode 600, outside the repository), which keeps the key out of the environment.
EXCHANGE_ENCRYPTION_KEY_FILE = env_str("EXCHANGE_ENCRYPTION_KEY_FILE", "")
if EXCHANGE_ENCRYPTION_KEY_FILE:
    if EXCHANGE_ENCRYPTION_KEY:
        raise ImproperlyConfigured("Set EXCHANGE_ENCRYPTION_KEY or EXCHANGE_ENCRYPTION_KEY_FILE, not both.")
    try:
        EXCHANGE_ENCRYPTION_KEY = Path(EXCHANGE_ENCRYPTION_KEY_FILE).read_text().strip()
    except OSError as error:
        raise ImproperlyConfigured(f"EXCHANGE_ENCRYPTION_KEY_FILE={EXCHANGE_ENCRYPTION_KEY_FILE!r} can't be read: "
                                   f"{error.strerror}.") from None
if EXCHANGE_ENCRYPTION_KEY:
    try:
        Fernet(EXCHANGE_ENCRYPTION_KEY.encode())
    except ValueError:
        raise ImproperlyConfigured("EXCHANGE_ENCRYPTION_KEY is not a Fernet key (44 url-safe base64 characters).") from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "formtools",
    "axes",
    "exchange_console.organization",
    "exchange_console.connectors",
    "exchange_console.certificates",
    "exchange_console.accounts",
    "exchange_console.edge",
    "exchange_console.insight",
    "exchange_console.shell",
    "exchange_console.toolbox",
    "transport",
    "transport.queue",
    "exchange_console.queues",
    "exchange_console.console",
]

MIDDLEWARE = [
    "exchange_console.health.probes",  # first: answered whatever Host, scheme or session the probe has
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from STATIC_ROOT, before any session work
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "exchange_console.accounts.middleware.ActingAdministratorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "exchange_console.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "exchange_console.wsgi.application"
ASGI_APPLICATION = "exchange_console.asgi.application"

DATABASE_URL = env_url(
    "DATABASE_URL", f"sqlite:///{EXCHANGE_DATA_DIR / 'exchange.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, 0))}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes (web, transport workers) share the file: wait for locks instead of failing, and let
    # readers (the console) go on while a worker writes (write-ahead log). The threads of one process take their
    # write transactions in turn on a lock rather than in SQLite's sleep-and-retry (exchange_console/db/sqlite3).
    DATABASES["default"]["ENGINE"] = "exchange_console.db.sqlite3"
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (django-axes): this many failed sign-ins for one user name from one address within the
# window refuse further attempts for that name from that address until it has passed; other addresses still
# may. Attempts are counted before their password is evaluated (accounts/throttling.py).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, 1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_FAILURE_WINDOW_MINUTES", 15, 1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "exchange_console.accounts.throttling.SignInAttempts"
AXES_CLIENT_IP_CALLABLE = "exchange_console.accounts.views.client_address"
AXES_LOCKOUT_CALLABLE = "exchange_console.accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refused attempts don't extend the lock
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins aren't kept: nothing reads them
AXES_VERBOSE = False  # no banner at start-up: `manage.py ems` writes only the shell's own output
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Outside DEBUG the console is meant to be served over HTTPS (behind a TLS-terminating proxy if need be).
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Plain HTTP requests are redirected to HTTPS; off for a console reached over HTTP on a trusted network only.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The console's host name gets HSTS, not the organization's other hosts under it, and no domain is put on
# the browsers' preload list on the console's behalf: those are decisions for the whole domain.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Collected files belong to a version of the code (the image collects them at build time), not to the data
# folder, which outlives upgrades.
STATIC_ROOT = env_path("STATIC_ROOT", BASE_DIR / "staticfiles")
# Outside DEBUG, pages link to content-hashed copies (cached for a year, gzip and Brotli beside them) that
# `collectstatic` writes, and a page whose file wasn't collected fails instead of coming up unstyled. With
# DEBUG, links keep the plain names and files come from STATICFILES_DIRS, so `make run` needs no collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Celery: the embedded default is kombu's filesystem transport, which needs no server and still
# carries messages between processes (web -> transport workers). Redis when CELERY_BROKER_URL says so.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "filesystem://localhost/", schemes={"filesystem", "redis", "rediss", "memory"})
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT = "transport.broker:Transport"  # kombu's, with message files written atomically
    _broker_dir = EXCHANGE_DATA_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.1,
    }
# Results: only a server's answers to the console (transport.tasks.read_message and read_logs: a message's content
# or log rows, read from that server's disk) are kept, every other task's is ignored. It comes back the way the task went: Redis beside
# a Redis broker, a folder beside the embedded broker's, memory beside memory://. Kept at most an hour; the
# console forgets each one once read.
if CELERY_BROKER_URL.startswith("filesystem://"):
    _results = f"file://{EXCHANGE_DATA_DIR / 'results'}"   # unquoted: Celery takes the path as written
elif CELERY_BROKER_URL.startswith("memory://"):
    _results = "cache+memory://"
else:
    _results = CELERY_BROKER_URL
RESULT_BACKEND_URL = env_url("CELERY_RESULT_BACKEND", _results, schemes={"redis", "rediss", "file", "cache+memory"})
CELERY_RESULT_BACKEND = RESULT_BACKEND_URL
if RESULT_BACKEND_URL.startswith("file://"):   # Celery checks the folder when it starts, so it must exist
    Path(RESULT_BACKEND_URL.removeprefix("file://").removeprefix("localhost")).mkdir(parents=True, exist_ok=True)
    # Celery's own file backend writes an answer in place, where the console could read half of it.
    CELERY_RESULT_BACKEND = f"transport.broker:FilesystemResults+{RESULT_BACKEND_URL}"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
# Seconds the console waits for a transport server to answer a read of its disk (the Queue Viewer's message
# page, Export-Message) before it says the server didn't answer.
CONSOLE_READ_TIMEOUT = env_int("CONSOLE_READ_TIMEOUT", 30, 1, 300)
# Celery beat: every minute each transport server samples its queues and traffic for the Queue Viewer's chart.
# The "management" queue is consumed by every transport worker, so any one of them takes the fan-out.
CELERY_BEAT_SCHEDULE = {
    "sample-queues": {"task": "exchange_console.toolbox.tasks.sample_all_servers", "schedule": 60.0,
                      "options": {"queue": "management", "expires": 55}},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(EXCHANGE_DATA_DIR / "celerybeat-schedule")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "management"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# A transport worker starts its receive process again 1 s after it dies, then waits twice as long after each
# exit, up to this many seconds; a process that stayed up that long starts the sequence over.
RECEIVE_PROCESS_MAX_RESTART_DELAY = env_int("RECEIVE_PROCESS_MAX_RESTART_DELAY", 60, 1, 3600)

# Logs and metrics for operators. LOG_FORMAT=json: one JSON object per line (console and transport workers),
# with the server, connector, session and message ids an event has. A transport worker records a heartbeat
# (and whether its broker answers) every TRANSPORT_HEARTBEAT_INTERVAL seconds, and serves Prometheus metrics
# on TRANSPORT_METRICS_ADDRESS:TRANSPORT_METRICS_PORT when the port isn't 0 (docs/metrics.md).
LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is neither text nor json.")
if LOG_FORMAT == "json":
    logging.captureWarnings(True)   # Python's warnings become log events too, instead of raw text on stderr
# How a transport server's queue store makes a group of accepted messages durable before their 250: syncfs (Linux:
# one flush of the file system holding the queue folder per group) or fsync (each message's file on its own).
TRANSPORT_QUEUE_SYNC = env_str("TRANSPORT_QUEUE_SYNC", "syncfs" if sys.platform == "linux" else "fsync")
if TRANSPORT_QUEUE_SYNC not in ("syncfs", "fsync") or (TRANSPORT_QUEUE_SYNC == "syncfs" and sys.platform != "linux"):
    raise ImproperlyConfigured(f"TRANSPORT_QUEUE_SYNC={TRANSPORT_QUEUE_SYNC!r}: use fsync, or syncfs on Linux.")
TRANSPORT_HEARTBEAT_INTERVAL = env_int("TRANSPORT_HEARTBEAT_INTERVAL", 10, 1, 300)
TRANSPORT_METRICS_PORT = env_int("TRANSPORT_METRICS_PORT", 0, 0, 65535)
TRANSPORT_METRICS_ADDRESS = env_str("TRANSPORT_METRICS_ADDRESS", "127.0.0.1")

# The address an Edge Transport server's EdgeSync listener binds (its port is the Edge's, set by
# `install_server --edgesync-port`, 50636 by default); the organization's Hubs push to it (docs/edge.md).
EDGESYNC_LISTEN_ADDRESS = env_str("EDGESYNC_LISTEN_ADDRESS", "0.0.0.0")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
                   "json": {"()": "exchange_console.jsonlog.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
