"""Settings for the flows dashboard, read from the environment top to bottom.

DEBUG=true is the development mode of `make run`: missing secrets are generated once into var/.
Anything else is production: SECRET_KEY and FIELD_ENCRYPTION_KEYS must be set, cookies are secure,
HTTPS is enforced and `manage.py check --deploy` has nothing to say.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from wabas.crypto import EncryptionKeyError, parse_field_keys

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    value = env(name).lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def env_list(name: str, default: str = "") -> list[str]:
    return [item for item in env(name, default).replace(",", " ").split() if item]


def dev_secret(name: str, make: callable) -> str:
    """A development secret kept in var/dev-secrets.json so it survives restarts of `make run`."""
    path = VAR_DIR / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        VAR_DIR.mkdir(exist_ok=True)
        stored[name] = make()
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored[name]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is not true.")
    SECRET_KEY = dev_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))

_field_keys = env("FIELD_ENCRYPTION_KEYS")
if not _field_keys and DEBUG:
    _field_keys = dev_secret("FIELD_ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
try:
    FIELD_ENCRYPTION_KEYS = parse_field_keys(_field_keys)
except EncryptionKeyError as exc:
    raise ImproperlyConfigured(str(exc)) from None

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1 localhost" if DEBUG else "")
# How Meta reaches this server: the data-exchange and webhook URLs shown to users start with it.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The loopback stand-in for Meta (sandbox/) is mounted only where it is asked for.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)

# The hosted data-exchange endpoint (the exchange app). Meta gives the whole round trip about
# 10 seconds, so the relay to a customer's endpoint has a strict budget of its own.
# Customer endpoints on private or loopback addresses are refused outside development (no SSRF).
ALLOW_PRIVATE_CUSTOMER_ENDPOINTS = env_bool("ALLOW_PRIVATE_CUSTOMER_ENDPOINTS", DEBUG)
CUSTOMER_ENDPOINT_CONNECT_TIMEOUT = float(env("CUSTOMER_ENDPOINT_CONNECT_TIMEOUT", "1.0"))
CUSTOMER_ENDPOINT_TIMEOUT = float(env("CUSTOMER_ENDPOINT_TIMEOUT", "3.0"))
CUSTOMER_ENDPOINT_MAX_BYTES = 4 * 1024 * 1024
FLOW_ENDPOINT_MAX_BODY_BYTES = 1024 * 1024
# A Flow JSON saved from the editor: Meta takes up to 10 MB, but our validator and editor are meant for
# flows people write (the examples are a few KB); bigger texts get a form error that keeps them.
FLOW_JSON_MAX_BYTES = int(env("FLOW_JSON_MAX_BYTES", str(1024 * 1024)))
# Form posts up to this size reach the form (which then says what is too long) instead of being
# refused with a 400 before any form sees them: above Meta's own 10 MB Flow JSON limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
# Each process keeps a flow's row this long: the query costs more than the cryptography.
FLOW_ENDPOINT_CACHE_SECONDS = 10
# Each process sends the endpoint's health and funnel numbers to Redis at most this often
# (exchange/metrics.py).
FLOW_STATS_FLUSH_SECONDS = float(env("FLOW_STATS_FLUSH_SECONDS", "1.0"))
# Flow tokens we issue expire after this many days (long enough for a campaign and its stragglers);
# the endpoint then answers Meta's invalid-token code on flows that accept only our tokens.
FLOW_TOKEN_MAX_AGE_DAYS = float(env("FLOW_TOKEN_MAX_AGE_DAYS", "30"))
# Endpoint problems (exchange.EndpointError) are kept this long for the flow's page.
ENDPOINT_ERROR_RETENTION_DAYS = 30
# The same problem of the same flow is written at most once in this many seconds per process.
ENDPOINT_ERROR_REPEAT_SECONDS = float(env("ENDPOINT_ERROR_REPEAT_SECONDS", "60"))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "wabas",
    "templates_app",
    "campaigns",
    # Always installed so its tables exist; its URLs are mounted only when SANDBOX_ENABLED.
    "sandbox",
    "audience",
    "exchange",
    "flowsadmin",
    # Last, so that its post_migrate role sync sees every app's permissions.
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "flowsadmin.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view says @login_not_required (login, health, Meta's calls).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Times on pages in the current account's time zone (Waba.time_zone).
    "wabas.access.account_time_zone",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "flowsadmin.urls"
WSGI_APPLICATION = "flowsadmin.wsgi.application"

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
                "flowsadmin.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
# Nothing lost with a worker: a task is acknowledged only after it ran (acks_late), and one whose
# worker process died mid-task (SIGKILL, out of memory) is given back to the queue rather than
# acknowledged (reject_on_worker_lost). Every task is idempotent, so a second run changes nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# On Redis an unacknowledged task (its worker killed outright) goes back to the queue after this
# many seconds; it must outlast the longest task (a campaign send slice, 30 s) and any retry delay.
# Workers look for such tasks every unacked_restore_interval x 10 (kombu's throttle) seconds: about
# a minute here, instead of kombu's 100 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "unacked_restore_interval": int(env("CELERY_UNACKED_RESTORE_INTERVAL", "6")),
}
# A webhook delivery still unfinished this long after its task was queued is queued again by the
# beat (wabas.tasks.retake_stuck_webhooks_task) and listed to admins as needing attention.
WEBHOOK_STUCK_SECONDS = int(env("WEBHOOK_STUCK_SECONDS", "300"))
# `make run` sets this when no Redis answers, so tasks run in-process instead of waiting forever.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# In-process tasks behave like queued ones for the page that queued them: a failure is recorded by
# the task, not raised into the request. Tests turn it on to see every error.
CELERY_TASK_EAGER_PROPAGATES = env_bool("CELERY_TASK_EAGER_PROPAGATES", False)
# One beat schedule for the whole project.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Status, validation errors, preview link and health of every flow that can still change.
    "refresh-flows": {"task": "flowsadmin.tasks.refresh_flows_task", "schedule": 15 * 60},
    # Templates still under review, in case a review webhook was missed.
    "refresh-pending-templates": {
        "task": "templates_app.tasks.refresh_pending_templates_task",
        "schedule": 5 * 60,
    },
    # Campaigns: start those whose send_at has come, give each sending one a sender if none is
    # alive (after a worker died, or Redis lost its queue), and settle sends Meta never answered.
    "dispatch-due-campaigns": {
        "task": "campaigns.tasks.dispatch_due_campaigns_task",
        "schedule": 60,
    },
    # Webhook deliveries left unfinished (a worker killed, Redis down when one came): queued again.
    "retake-stuck-webhooks": {"task": "wabas.tasks.retake_stuck_webhooks_task", "schedule": 60},
    # Endpoint problems past ENDPOINT_ERROR_RETENTION_DAYS.
    "forget-old-endpoint-errors": {
        "task": "exchange.tasks.forget_old_endpoint_errors_task",
        "schedule": 24 * 3600,
    },
}
# Campaign sending: threads per send task (a send mostly waits for Meta; against Meta's real latency,
# about 0.2 s, 16 threads keep one worker near a number's 80 messages a second), how long one task
# sends before handing over to the next, and how long a send may go without Meta's answer or status
# webhook before it is given up as "unknown, not re-sent".
CAMPAIGN_SEND_THREADS = int(env("CAMPAIGN_SEND_THREADS", "16"))
CAMPAIGN_SEND_SLICE_SECONDS = float(env("CAMPAIGN_SEND_SLICE_SECONDS", "30"))
CAMPAIGN_UNANSWERED_SECONDS = int(env("CAMPAIGN_UNANSWERED_SECONDS", "600"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts, styles and everything else only from our own origin (static/, vendored libraries): no
# inline <script>, no on* attributes, no style= attributes. The browser tests fail on any violation.
# Images may also be blob: URLs: the template form previews the header image chosen before upload.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Production serves only HTTPS; tests and `make run` speak plain HTTP on loopback.
HTTPS_ONLY = env_bool("HTTPS_ONLY", not DEBUG)
if HTTPS_ONLY:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Load-balancer health probes come over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # TLS ends at the proxy in front of the web server (granian), which must set X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own (its default sends INFO to a console handler of its own as well).
        "django": {"level": env("LOG_LEVEL", "INFO")},
        "django.db.backends": {"level": "WARNING"},
        # runserver's line per request; make run keeps it to problems (scripts/run-dev.sh).
        "django.server": {
            "handlers": ["console"],
            "level": env("REQUEST_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
