"""Chairside settings: one module, driven by the environment.

`infra/devstack.py` exports DATABASE_URL, REDIS_URL and the Stripe variables for the embedded
stack; production sets them itself. With DEBUG off the module refuses to start insecurely.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CHAIRSIDE_DATA_DIR", BASE_DIR / ".data"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc assets, served by api/docs.py
    "django.contrib.postgres",
    "services.core",
    "services.organizations",
    "services.clinics",
    "services.patients",
    "services.scheduling",
    "services.billing",
    "services.packages",
    "services.portal",
    "services.waitlist",
    "services.notifications",
    "services.recalls",
    "services.clinical",
    "services.controlled",
    "services.reports",
    "workers",
]

MIDDLEWARE = [
    "services.core.request_context.RequestIdMiddleware",
    "api.errors.ProblemFallbackMiddleware",
    "api.parsers.StorableQueryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "api.urls"
WSGI_APPLICATION = "infra.wsgi.application"
APPEND_SLASH = False  # API paths accept an optional trailing slash themselves

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# --- Database -------------------------------------------------------------------------------
if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set: run through `make run` / `make test` (infra/devstack.py) or export it"
    )
DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"],
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# infra/postgres skips the per-request `SELECT 1` on a busy connection whose socket is quiet
# (docs/performance.md); DB_PING_EVERY_REQUEST=1 keeps Django's check on every request.
_DJANGO_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _DJANGO_POSTGRES and not env_bool("DB_PING_EVERY_REQUEST"):
    DATABASES["default"]["ENGINE"] = "infra.postgres"
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("CHAIRSIDE_TEST_DB_NAME", "test_chairside")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL is not set: run through `make run` / `make test` or export it")
# Seconds any Redis call made while answering a request may take (cache, throttles, the publish
# after commit); a healthy Redis answers in well under a millisecond. Workers' own client waits longer.
REDIS_REQUEST_TIMEOUT = float(os.environ.get("REDIS_REQUEST_TIMEOUT", "0.3"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "chairside"),
        # A stalled Redis must fail a request's cache call fast, not hang a gunicorn thread.
        "OPTIONS": {"socket_connect_timeout": REDIS_REQUEST_TIMEOUT, "socket_timeout": REDIS_REQUEST_TIMEOUT},
    }
}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "organizations.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCESS_TOKEN_TTL = timedelta(seconds=env_int("ACCESS_TOKEN_TTL_SECONDS", 8 * 3600))
# How long a process may reuse a token's user and roles (api/auth.py); revocation waits at most this.
AUTH_CACHE_SECONDS = float(os.environ.get("AUTH_CACHE_SECONDS", "1.0"))
# Encrypts staff TOTP seeds at rest (services/organizations/secretbox.py); derived from SECRET_KEY if unset.
MFA_ENCRYPTION_KEY = os.environ.get("MFA_ENCRYPTION_KEY", "")
MFA_ISSUER = os.environ.get("MFA_ISSUER", "Chairside")  # the name authenticator apps show
STAFF_RESET_TTL_MINUTES = env_int("STAFF_RESET_TTL_MINUTES", 60)
SHIFT_PATTERN_WEEKS_AHEAD = env_int("SHIFT_PATTERN_WEEKS_AHEAD", 8)  # weekly shift patterns: weeks generated
# Sign-in limits (services/organizations/signin.py, docs/security.md): delays, never a lock-out.
LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", 5)  # per address+account, then 1 s, 2 s, 4 s ...
LOGIN_MAX_DELAY_SECONDS = env_int("LOGIN_MAX_DELAY_SECONDS", 900)
LOGIN_ACCOUNT_FREE_FAILURES = env_int("LOGIN_ACCOUNT_FREE_FAILURES", 10)  # across addresses
LOGIN_ACCOUNT_MAX_DELAY_SECONDS = env_int("LOGIN_ACCOUNT_MAX_DELAY_SECONDS", 30)  # all a stranger can impose
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)

# --- Security when DEBUG is off -------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No sessions or auth cookies: every API call carries a bearer token, so CSRF cannot apply.
SILENCED_SYSTEM_CHECKS = ["security.W003"]
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# --- Internationalization -------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsStaff"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StorableJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CreatedCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.problem_exception_handler",
    "DEFAULT_METADATA_CLASS": "api.metadata.ApiMetadata",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chairside API",
    "DESCRIPTION": "Practice management for multi-clinic ketamine and Spravato practices.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.finish_schema"],
    # The docs pages load their assets from this server (api/docs.py), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
STATIC_URL = "/static/"

# --- Clinical rules -------------------------------------------------------------------------
# Intake tests (urine drug screen, pregnancy test) older than this no longer support a clearance.
PATIENT_SCREENING_VALIDITY_DAYS = env_int("PATIENT_SCREENING_VALIDITY_DAYS", 365)
# Least hours between the starts of two ketamine-family sessions of one patient (a clinic may override).
CLINICAL_KETAMINE_MIN_GAP_HOURS = env_int("CLINICAL_KETAMINE_MIN_GAP_HOURS", 24)

# --- Stripe ---------------------------------------------------------------------------------
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")  # localstripe in the dev stack
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
# What the patient's browser loads to collect a card: Stripe.js itself, or the dev stack's
# localstripe stand-in (infra/devstack.py sets both to localstripe's).
STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")

# --- Email and SMS --------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Chairside <no-reply@chairside.local>")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# --- Events, workers and the scheduler (issue #3) -------------------------------------------
# The broker defaults to REDIS_URL; a separate URL lets production split cache and queues.
DRAMATIQ_BROKER_URL = os.environ.get("DRAMATIQ_BROKER_URL", REDIS_URL)
DRAMATIQ_NAMESPACE = os.environ.get("DRAMATIQ_NAMESPACE", "dramatiq")
DRAMATIQ_HEARTBEAT_TIMEOUT_MS = env_int(
    "DRAMATIQ_HEARTBEAT_TIMEOUT_MS", 60_000
)  # then a dead worker's jobs requeue
DRAMATIQ_DEAD_MESSAGE_TTL_DAYS = env_int("DRAMATIQ_DEAD_MESSAGE_TTL_DAYS", 7)
# Kept longer than dead letters live, so a re-driven message still finds its processed-event rows.
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 14)
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 5)
OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 500)
OUTBOX_READY_MAX_AGE_SECONDS = env_int("OUTBOX_READY_MAX_AGE_SECONDS", 300)  # /readyz fails past this lag
SCHEDULER_TICK_SECONDS = env_int("SCHEDULER_TICK_SECONDS", 1)
# The reconciler (issue #12): events dispatched this long ago (plus the handler's own retry backoff)
# without a processed row per handler are published again, at most MAX_ATTEMPTS times, then `dead`.
OUTBOX_RECONCILE_SECONDS = env_int("OUTBOX_RECONCILE_SECONDS", 30)
OUTBOX_RECONCILE_GRACE_SECONDS = env_int("OUTBOX_RECONCILE_GRACE_SECONDS", 180)
OUTBOX_RECONCILE_MAX_ATTEMPTS = env_int("OUTBOX_RECONCILE_MAX_ATTEMPTS", 5)
OUTBOX_RECONCILE_BATCH = env_int("OUTBOX_RECONCILE_BATCH", 1000)
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")  # when set, /metrics wants "Authorization: Bearer <it>"
SMS_PROVIDER = os.environ.get("SMS_PROVIDER", "services.notifications.sms.LocalFileSmsProvider")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(DATA_DIR / "sms"))
NOTIFICATION_QUIET_HOURS = os.environ.get("NOTIFICATION_QUIET_HOURS", "21:00-08:00")  # clinic-local
REMINDER_SCAN_SECONDS = env_int("REMINDER_SCAN_SECONDS", 3)  # how often due reminders are looked for
# SMS_PROVIDER=twilio sends through Twilio (docs/messages.md); TWILIO_API_BASE points the SDK at a fake.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
TWILIO_API_BASE = os.environ.get("TWILIO_API_BASE", "")

# --- Logging: JSON lines with the request id; never request bodies (they carry PHI) ----------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "services.core.request_context.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # django.request logs would include the path and, on errors, request details; ours is enough
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
