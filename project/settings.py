"""Base settings shared by every environment.

Environment modules (settings_debug, settings_test, settings_master) star-import
this one and override only what differs. Everything that varies per machine is
read from the environment; an untracked `.env` at the project root is read first
and the real environment wins over it.
"""

import importlib.util
import os
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from dotenv import load_dotenv

from corelib.env import env_bool, env_choice, env_float, env_int, env_list, env_str, env_time_zone
from corelib.logging import build_logging

BASE_DIR = Path(__file__).absolute().parent.parent  # not resolve(): see gunicorn.conf.py
# ENV_FILE points elsewhere for tests; the real environment always wins over the file.
load_dotenv(os.environ.get("ENV_FILE", BASE_DIR / ".env"), override=False)

ENVIRONMENT = "base"
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "axes",
    "corelib",
    "apps.accounts",
    "apps.boards",
    "apps.probes",
]

MIDDLEWARE = [
    # First, so that a view failing to get a database connection answers 503 (corelib.dbpool).
    "corelib.dbpool.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /static/ (the admin's and the API docs' files) from the same process, before sessions and auth.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "corelib.security_headers.AdminContentSecurityPolicyMiddleware",
    # Last, as django-axes requires: answers a locked-out admin login (settings below).
    "axes.middleware.AxesMiddleware",
]
# Paths under /api/ (bearer tokens, no cookies) skip what only cookie-based pages need (corelib.wsgi).
API_MIDDLEWARE = [
    # Outermost, so that every answer, a 503 from the next one included, has a length.
    "corelib.content_length.ContentLengthMiddleware",
    # No frames and no resources for any JSON answer, a refusal below included.
    "corelib.security_headers.ApiSecurityHeadersMiddleware",
    # Host and query string checked before anything (the SSL redirect too) asks for them.
    "corelib.api_guard.ApiRequestGuardMiddleware",
    "corelib.dbpool.DatabaseBusyMiddleware",
    "django.middleware.security.SecurityMiddleware",
]
# The admin's own files only. Inline scripts and styles stay allowed: django-rq's job
# pages (under the admin) run inline scripts, and the admin's change list an inline style.
ADMIN_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

# django-ninja's own Swagger UI page and files, so the API docs need no CDN (project.api.OfflineSwagger).
# Found without importing ninja: as an installed app it would load ninja and pydantic into every
# process, RQ workers included, which never serve the docs.
NINJA_FILES = Path(importlib.util.find_spec("ninja").origin).parent  # type: ignore[union-attr, arg-type]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [NINJA_FILES / "templates"],
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

# --- Databases -------------------------------------------------------------
# Two aliases: `default` holds the business data (production MySQL), `admin`
# holds Django's own tables (the test environment's database). See corelib.router.

DB_SSL_DISABLED = env_bool("DB_SSL_DISABLED", False)
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
# Connections per process and alias (corelib.dbpool): size MariaDB's max_connections
# for gunicorn workers x DB_POOL_SIZE x aliases + RQ workers. A request waiting
# longer than DB_POOL_TIMEOUT seconds for one gets a 503.
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 8, minimum=1)
DB_POOL_TIMEOUT = env_float("DB_POOL_TIMEOUT", 3.0)
# Seconds a statement waits for a row lock before InnoDB gives up (its default, 50 s, outlasts
# Gunicorn's timeout). corelib.dbretry restarts such a transaction a few times, then answers 503.
DB_LOCK_WAIT_TIMEOUT = env_int("DB_LOCK_WAIT_TIMEOUT", 5, minimum=1)


def mysql_alias(prefix: str, default_name: str, password: str) -> dict:
    """A MySQL/MariaDB alias read from PREFIX_HOST, PREFIX_PORT, PREFIX_NAME, PREFIX_USER."""
    options = {
        "charset": "utf8mb4",
        "init_command": (
            "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci, "
            "sql_mode='STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
            "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', "
            f"innodb_lock_wait_timeout={DB_LOCK_WAIT_TIMEOUT}"
        ),
        "connect_timeout": DB_CONNECT_TIMEOUT,
    }
    if DB_SSL_DISABLED:
        # Only where the network is trusted (loopback, private link): PyMySQL
        # otherwise builds an SSL context on every connect (~22 ms of CPU).
        options["ssl_disabled"] = True
    name = env_str(f"{prefix}_NAME", default_name)
    return {
        # Django's MySQL backend plus a bounded, greenlet-aware slot per connection.
        "ENGINE": "corelib.db.mysql",
        "HOST": env_str(f"{prefix}_HOST", "127.0.0.1"),
        "PORT": env_int(f"{prefix}_PORT", 3306),
        "NAME": name,
        "USER": env_str(f"{prefix}_USER", "root"),
        "PASSWORD": password,
        # Persistent connections leak under gevent (one per greenlet): keep 0.
        "CONN_MAX_AGE": 0,
        "OPTIONS": options,
        "TEST": {
            "NAME": f"test_{name}",
            "CHARSET": "utf8mb4",
            "COLLATION": "utf8mb4_unicode_ci",
        },
    }


def sqlite_alias(path: Path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


DATABASES: dict = {}
DATABASE_ROUTERS = ["corelib.router.AppsRouter"]
# App label -> alias. Unlisted apps live on `default`.
DATABASE_APPS_MAPPING = {
    "admin": "admin",
    "auth": "admin",
    "contenttypes": "admin",
    "sessions": "admin",
    "django_rq": "admin",
    "axes": "admin",
}
# Aliases whose schema a DBA applies by hand: the ORM runs no DDL there.
DBA_MANAGED_DATABASES: list[str] = []

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, locks, rate limits, queues ------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "mp")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 0.5),
            "SOCKET_TIMEOUT": env_float("REDIS_TIMEOUT", 0.5),
            # Blocking: with more greenlets than connections a request waits its
            # turn (up to the timeout) instead of the pool raising "Too many
            # connections", which would read as Redis being down.
            "CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool",
            "CONNECTION_POOL_KWARGS": {
                "max_connections": env_int("REDIS_POOL_SIZE", 50, minimum=1),
                "timeout": env_float("REDIS_POOL_TIMEOUT", 2.0),
            },
        },
    }
}


def with_timeouts(url: str, connect: float, read: float) -> str:
    """Add redis-py's timeouts to a Redis URL unless it sets them itself.

    django-rq passes no connection options along with a URL, and without them an
    enqueue inside a request would wait on an unreachable Redis indefinitely.
    A worker raises the read timeout above its blocking dequeue by itself.
    """
    query = parse_qs(urlsplit(url).query)
    wanted = (("socket_connect_timeout", connect), ("socket_timeout", read))
    missing = {key: value for key, value in wanted if key not in query}
    if not missing:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(missing)


RQ_REDIS_URL = with_timeouts(
    env_str("RQ_REDIS_URL", REDIS_URL), env_float("REDIS_CONNECT_TIMEOUT", 0.5), env_float("RQ_REDIS_TIMEOUT", 5.0)
)
RQ_QUEUES = {
    name: {"URL": RQ_REDIS_URL, "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("high", 60), ("default", 180), ("low", 600))
}
# on_db_commit: a job enqueued inside a transaction is sent only after commit.
RQ = {"WORKER_CLASS": "corelib.rq.SentryWorker", "COMMIT_MODE": "on_db_commit"}
# `manage.py run_scheduler`: seconds between passes, and how often the outbox relay runs.
SCHEDULER_INTERVAL = env_int("SCHEDULER_INTERVAL", 10, minimum=1)
OUTBOX_RELAY_INTERVAL = env_int("OUTBOX_RELAY_INTERVAL", 60, minimum=1)
# A pushed job that Redis no longer knows (restart without its data, failover) is pushed again
# once it has been missing longer than its own timeout plus these seconds (corelib.outbox).
OUTBOX_REPUSH_GRACE = env_int("OUTBOX_REPUSH_GRACE", 30, minimum=0)

# --- Sessions, static, i18n --------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.db"
STATIC_URL = "/static/"
STATICFILES_DIRS = [NINJA_FILES / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "static")))
# WhiteNoise serves what collectstatic wrote (the deploy runs it), gzipped ahead of time; with DEBUG on it
# serves the apps' own static folders, so `make run` needs no collectstatic. Before the first collectstatic
# (tests, a fresh checkout) there is no STATIC_ROOT yet, which it would warn about in every process.
warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LANGUAGE_CODE = env_choice("LANGUAGE_CODE", "en", [code for code, _ in LANGUAGES])
# Cron schedules and every log line (app, RQ, Gunicorn) are in this zone.
TIME_ZONE = env_time_zone("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Admin sign-in: lockout and audit (django-axes) ---------------------------------
# After ADMIN_LOCKOUT_FAILURES failed sign-ins, a username is locked out, and so is the
# client address (each on its own) for ADMIN_LOCKOUT_MINUTES; the lockout answers 429.
# Attempts, sign-ins and sign-outs are kept on the `admin` alias (AccessAttempt,
# AccessFailureLog, AccessLog) and shown in the admin; changes made through the admin
# are in Django's own LogEntry ("Recent actions", each object's history).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOCKOUT_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOCKOUT_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The same client address the API's rate limits use: X-Forwarded-For only from TRUSTED_PROXIES.
AXES_CLIENT_IP_CALLABLE = "corelib.client_ip.client_ip"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Proxies -------------------------------------------------------------------
# X-Forwarded-For is believed only when the direct peer is one of these.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", ["127.0.0.1", "::1"])

# --- Operations -------------------------------------------------------------------
# The benchmark's fixed-cost probes (/api/probe/*, /api/health/db): mounted only when on.
PROBES_ENABLED = env_bool("PROBES_ENABLED", False)
# Shared secret a caller off this host sends as X-Ops-Token to see /api/ready's details
# (corelib.trusted_caller). Empty: only callers on this host see them.
OPS_TOKEN = env_str("OPS_TOKEN", "")

# `/metrics` answers only these addresses or networks (the client as corelib.client_ip sees it).
METRICS_ALLOWED = env_list("METRICS_ALLOWED", ["127.0.0.1", "::1"])

# --- WeChat ----------------------------------------------------------------------
WECHAT_API_BASE = env_str("WECHAT_API_BASE", "https://api.weixin.qq.com")
WECHAT_CONNECT_TIMEOUT = env_float("WECHAT_CONNECT_TIMEOUT", 2.0)
WECHAT_READ_TIMEOUT = env_float("WECHAT_READ_TIMEOUT", 5.0)
# Seconds each process keeps an active mini-program's row for logins (apps.accounts.mini_programs): an
# operator's change reaches every worker within this time. 0: read it on every login.
MINI_PROGRAM_KEEP_SECONDS = env_float("MINI_PROGRAM_KEEP_SECONDS", 30.0)
# "appid:secret,appid:secret": mini-programs synced into the database at deploy.
WECHAT_MINIPROGRAMS = env_str("WECHAT_MINIPROGRAMS", "")

# --- Request shape ---------------------------------------------------------------
# Bodies above this many bytes get a 413 before they are read (corelib.body_limit);
# nginx's client_max_body_size (deploy/nginx.conf.template) refuses them first when in front.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_BODY_MAX_BYTES", 2621440, minimum=1024)

# --- API: token lifetime and rate limits (requests, window seconds), shared in Redis ---
API_TOKEN_TTL_SECONDS = env_int("API_TOKEN_TTL_SECONDS", 7 * 24 * 3600, minimum=60)
RATE_LIMITS = {
    "login_ip": (env_int("RATE_LOGIN_PER_IP", 30, minimum=1), 60),
    "login_app": (env_int("RATE_LOGIN_PER_APP", 3000, minimum=1), 60),
    "post_user": (env_int("RATE_POST_PER_USER", 30, minimum=1), 60),
    # Every write (boards, messages, replies, likes, profile, logout), per user and per client address.
    "write_user": (env_int("RATE_WRITE_PER_USER", 120, minimum=1), 60),
    "write_ip": (env_int("RATE_WRITE_PER_IP", 600, minimum=1), 60),
}
# Subscribe-message template of the reply notification (empty: no notifications).
WECHAT_REPLY_TEMPLATE_ID = env_str("WECHAT_REPLY_TEMPLATE_ID", "")

# --- Logging and errors ------------------------------------------------------------
LOG_DIR = Path(env_str("LOG_DIR", str(BASE_DIR / "logs")))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_TO_CONSOLE = env_bool("LOG_TO_CONSOLE", False)
SENTRY_DSN = env_str("SENTRY_DSN", "")
RELEASE = env_str("RELEASE", "")


def finish_settings(namespace: dict) -> None:
    """Derive what depends on an environment module's final values.

    Each environment module calls this last, with its globals().
    """
    from corelib.sentry import init_sentry

    namespace["LOGGING"] = build_logging(
        log_dir=namespace["LOG_DIR"],
        level=namespace["LOG_LEVEL"],
        console=namespace["LOG_TO_CONSOLE"],
        base_dir=namespace["BASE_DIR"],
    )
    init_sentry(namespace["SENTRY_DSN"], namespace["ENVIRONMENT"], namespace["RELEASE"])
