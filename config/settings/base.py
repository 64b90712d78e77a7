"""Settings shared by every environment, read from the environment (12-factor).

The embedded default needs no server: SQLite in var/, kombu's filesystem transport in
var/broker/ and mail written to var/outbox/. DATABASE_URL and REDIS_URL switch to
PostgreSQL and Redis.
"""

import json
import os
from datetime import date
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("MAILROOM_VAR_DIR", BASE_DIR / "var"))


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def env_json(name, default):
    raw = env(name)
    return json.loads(raw) if raw else default


SECRET_KEY = env("SECRET_KEY", "")
# Earlier keys, still accepted for signatures: rotating SECRET_KEY must not break the
# unsubscribe links of emails already sent.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# How many reverse proxies stand in front of the app (each appends to X-Forwarded-For);
# only then are X-Forwarded-Proto and X-Forwarded-For believed. 0: clients connect directly.
MAILROOM_BEHIND_PROXY = int(env("MAILROOM_BEHIND_PROXY", "0"))

# Absolute base for links in emails and for unsubscribe URLs (no request exists in a worker).
MAILROOM_BASE_URL = env("MAILROOM_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "cms",
    "campaigns",
    "suppression",
    "accountmail",
    "signup",
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "anymail",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Wagtail's search and some lookups need it on PostgreSQL (postgres.E005 otherwise).
    "django.contrib.postgres",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "suppression.public.middleware.OneClickMiddleware",  # the one-click POST skips what follows
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

if not env("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default's SQLite file lives here
# Connections are kept between requests and tasks (a new PostgreSQL connection forks a
# server process: it cost more than sending a batch) and pinged once per request or task
# before reuse, so a restarted server or a killed connection costs a reconnect, not an error.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mailroom.sqlite3'}"),
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The hot statements config.prepared runs are prepared once per connection, and only
    # they: Django's own cursors bind on the client and never prepare. Off (0) behind a
    # pooler in transaction mode that cannot keep prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        2**31 if env_bool("MAILROOM_PREPARED_STATEMENTS", True) else None
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default's web, worker and beat share one SQLite file. With SQLite's
    # defaults a transaction that reads and then writes (starting a campaign) is refused
    # at once with "database is locked" when another process is writing: upgrading its
    # read lock could deadlock, so SQLite does not wait. BEGIN IMMEDIATE takes the write
    # lock first and waits its turn; WAL lets readers and the writer work side by side.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_ROOT = BASE_DIR / "static"
STATIC_URL = "/static/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_HANDLERS = [
    "config.uploads.RefuseOversizedUploads",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

WAGTAIL_SITE_NAME = "Mailroom"
# No Gravatar: it sends a hash of every admin's address to a third party, and where the
# admin cannot reach it (an offline demo) the avatar is a broken image. Wagtail's own is used.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILADMIN_BASE_URL = MAILROOM_BASE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "pdf", "txt", "xlsx"]

# --- Mail: two Django 6.1 mailers, both behind the suppression gateway (invariant 1) ---
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Mailroom <mailroom@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
OUTBOX_DIR = Path(env("MAILROOM_OUTBOX_DIR", VAR_DIR / "outbox"))


def gateway_mailer(stream, backend, options):
    """One MAILERS entry: the suppression gateway for `stream`, wrapping a real backend."""
    return {
        "BACKEND": "suppression.gateway.GatewayBackend",
        "OPTIONS": {"stream": stream, "backend": backend, "options": options},
    }


def stream_mailer(stream):
    """The gateway for `stream`, wrapping the real backend the environment names.

    MAILROOM_<STREAM>_BACKEND names the real backend (an anymail ESP backend, Django's
    SMTP backend, or the dev outbox); MAILROOM_<STREAM>_OPTIONS is a JSON object of its
    options (host, port, api_key, message stream, ...).
    """
    prefix = f"MAILROOM_{stream.upper()}"
    backend = env(f"{prefix}_BACKEND", "config.outbox.OutboxBackend")
    default_options = {"directory": str(OUTBOX_DIR)} if backend == "config.outbox.OutboxBackend" else {}
    return gateway_mailer(stream, backend, env_json(f"{prefix}_OPTIONS", default_options))


MAILERS = {
    "default": stream_mailer("account"),
    "promotional": stream_mailer("promotional"),
}
ANYMAIL = env_json("ANYMAIL", {})
# ESP webhooks (/webhooks/anymail/...). Off: their URLs answer 404 and no secret is needed.
# On, they refuse every request unless ANYMAIL["WEBHOOK_SECRET"] is set and the request has it.
MAILROOM_WEBHOOKS_ENABLED = env_bool("MAILROOM_WEBHOOKS_ENABLED", True)

# --- Public pages (unsubscribe, preferences, web version): requests per second per client
# IP address (IPv6: per /64) after a burst; 0 turns the limit off. Generous on purpose:
# mailbox providers send RFC 8058 one-click POSTs for many recipients from few addresses.
MAILROOM_PUBLIC_RATE = float(env("MAILROOM_PUBLIC_RATE", "5"))
MAILROOM_PUBLIC_BURST = int(env("MAILROOM_PUBLIC_BURST", "300"))

# --- Celery: one queue per stream so a big campaign never delays account mail ---
REDIS_URL = env("REDIS_URL", "")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
else:
    CELERY_BROKER_URL = "filesystem://"
    for folder in ("processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    # The same folder in and out makes the transport work across processes.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR),
        "data_folder_out": str(BROKER_DIR),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = "account"
CELERY_TASK_ROUTES = {
    "campaigns.tasks.*": {"queue": "promotional"},
    "accountmail.tasks.*": {"queue": "account"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes every database connection after each task unless told to reuse them;
# config.celery then treats them as Django does between requests (DATABASE_CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
MAILROOM_SCHEDULER_INTERVAL = float(env("MAILROOM_SCHEDULER_INTERVAL", "5"))
CELERY_BEAT_SCHEDULE = {
    "start-due-campaigns": {
        "task": "campaigns.tasks.start_due_campaigns",
        "schedule": MAILROOM_SCHEDULER_INTERVAL,
    },
    "requeue-account-mail": {
        "task": "accountmail.tasks.requeue_unsent",
        "schedule": MAILROOM_SCHEDULER_INTERVAL,
    },
    "delete-expired-import-files": {
        "task": "campaigns.tasks.delete_expired_import_files",
        "schedule": 3600.0,
    },
    # Signups nobody confirmed within 7 days are deleted (signup.double_opt_in).
    "delete-expired-signups": {"task": "signup.tasks.delete_expired_signups", "schedule": 3600.0},
}

# --- Sending ---
MAILROOM_BATCH_SIZE = int(env("MAILROOM_BATCH_SIZE", "500"))
# Leases on claimed deliveries and on batch chains: a worker renews them every third of a
# lease while it works, so a dead worker's rows and chain move again about a lease later.
MAILROOM_CLAIM_LEASE_SECONDS = int(env("MAILROOM_CLAIM_LEASE_SECONDS", "30"))
# Key for the hashes that keep erased people suppressed; separate from SECRET_KEY so
# rotating one does not unsuppress anyone.
MAILROOM_HASH_KEY = env("MAILROOM_HASH_KEY", "") or SECRET_KEY

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},  # Wagtail logs every background index task at INFO
    },
}
# How many batch chains run at once per campaign: one per worker slot you want busy.
MAILROOM_SEND_CHAINS = int(env("MAILROOM_SEND_CHAINS", "2"))
# Global messages/second per stream across all workers (0 = no limit): set it to the
# ESP's allowance so workers never trip its throttling.
MAILROOM_RATE_LIMITS = {
    "promotional": float(env("MAILROOM_PROMOTIONAL_RATE", "0")),
    "account": float(env("MAILROOM_ACCOUNT_RATE", "0")),
}
# A rate per mailbox provider (messages/second across all workers; 0 or absent = no limit),
# by group of recipient domains; "yahoo.*" takes every domain starting "yahoo.", and domains
# no group names are the group "other". Both JSON objects.
MAILROOM_DOMAIN_GROUPS = env_json(
    "MAILROOM_DOMAIN_GROUPS",
    {
        "google": ["gmail.com", "googlemail.com"],
        "yahoo": ["yahoo.*", "aol.com", "ymail.com"],
        "microsoft": ["outlook.com", "hotmail.*", "live.*", "msn.com"],
    },
)
MAILROOM_DOMAIN_RATES = {group: float(rate) for group, rate in env_json("MAILROOM_DOMAIN_RATES", {}).items()}
# An SMTP 4xx to a recipient halves the rate of its group until this long after the last one.
MAILROOM_DOMAIN_SLOWDOWN_SECONDS = float(env("MAILROOM_DOMAIN_SLOWDOWN_SECONDS", "300"))
# Warm-up of a new sending address: the most promotional messages per day, by day from
# MAILROOM_WARMUP_START (an ISO date), e.g. "500,1000,2000,5000"; no limit after the last
# day. A campaign that reaches the day's allowance waits for the next day. Off when empty.
MAILROOM_WARMUP_SCHEDULE = [int(limit) for limit in env_list("MAILROOM_WARMUP_SCHEDULE")]
MAILROOM_WARMUP_START = date.fromisoformat(env("MAILROOM_WARMUP_START")) if env("MAILROOM_WARMUP_START") else None
# Messages handed to a backend between two status writes, on every path (an ESP batch call
# carries at most this many too): a worker process killed mid-send repeats at most this many.
MAILROOM_CHUNK_SIZE = int(env("MAILROOM_CHUNK_SIZE", "50"))
# Use the ESP's batch API (Postmark: a template per campaign, one call per chunk).
MAILROOM_ESP_BATCH = env_bool("MAILROOM_ESP_BATCH", True)
MAILROOM_MAX_ATTEMPTS = int(env("MAILROOM_MAX_ATTEMPTS", "5"))
# A backend outage (connection refused, SMTP 421, ESP 429/5xx) spends no attempts; once a
# chain has met it for longer than this, its batch fails with the error and the campaign
# pauses (resuming tries again).
MAILROOM_GIVE_UP_AFTER_SECONDS = float(env("MAILROOM_GIVE_UP_AFTER_SECONDS", str(6 * 3600)))
# Auto-pause when more than this share of at least MAILROOM_PAUSE_MIN_SAMPLE sends failed.
MAILROOM_PAUSE_FAILURE_RATE = float(env("MAILROOM_PAUSE_FAILURE_RATE", "0.2"))
MAILROOM_PAUSE_MIN_SAMPLE = int(env("MAILROOM_PAUSE_MIN_SAMPLE", "100"))
# Deliverability guards (campaigns.reports.deliverability): pause a sending campaign when more
# than this share of delivered messages drew a spam complaint, or of sent ones hard-bounced,
# once at least MAILROOM_PAUSE_GUARD_MIN_SAMPLE were delivered (sent).
MAILROOM_PAUSE_COMPLAINT_RATE = float(env("MAILROOM_PAUSE_COMPLAINT_RATE", "0.001"))
MAILROOM_PAUSE_BOUNCE_RATE = float(env("MAILROOM_PAUSE_BOUNCE_RATE", "0.02"))
MAILROOM_PAUSE_GUARD_MIN_SAMPLE = int(env("MAILROOM_PAUSE_GUARD_MIN_SAMPLE", "1000"))
# At most this many promotional emails per contact in any 7 days, across campaigns (0: no cap).
MAILROOM_FREQUENCY_CAP = int(env("MAILROOM_FREQUENCY_CAP", "0") or 0)

# --- Staff: test sends (README: Roles) ---
# Test emails go only to staff users' addresses and these: addresses, or "@domain" for a domain.
MAILROOM_TEST_RECIPIENTS = env_list("MAILROOM_TEST_RECIPIENTS")
MAILROOM_TEST_SENDS_PER_HOUR = int(env("MAILROOM_TEST_SENDS_PER_HOUR", "20"))

# --- Uploads: kept where no URL serves them; Admins download them through admin views ---
PRIVATE_DIR = Path(env("MAILROOM_PRIVATE_DIR", VAR_DIR / "private"))
STORAGES["private"] = {
    "BACKEND": "config.private_storage.PrivateStorage",
    "OPTIONS": {"location": str(PRIVATE_DIR)},
}
# The largest upload; an XLSX counts at its unpacked size.
MAILROOM_IMPORT_MAX_BYTES = int(env("MAILROOM_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# Excel's own limit; an XLSX with more rows is refused before its rows are read.
MAILROOM_IMPORT_XLSX_MAX_ROWS = int(env("MAILROOM_IMPORT_XLSX_MAX_ROWS", "1048576"))
