"""Production. DEBUG off; every secret comes from the environment, with no default,
and none may be a placeholder from .env.example; SECRET_KEY and the database
passwords must also be 50+ random characters (corelib.secret_strength).

Business data lives in the production MySQL (`default`), whose schema a DBA
applies (see `manage.py schema_sql`); Django's own tables live on `admin`, the
test environment's database.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from corelib.env import env_bool, env_int, env_list, env_secret
from project.settings import *  # noqa: F403
from project.settings import finish_settings, mysql_alias

ENVIRONMENT = "master"
DEBUG = False

SECRET_KEY = env_secret("SECRET_KEY", strong=True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required on master (comma-separated host names).")

DATABASES = {
    "default": mysql_alias("DB", "miniprogram", env_secret("DB_PASSWORD", strong=True)),
    "admin": mysql_alias("ADMIN_DB", "miniprogram_admin", env_secret("ADMIN_DB_PASSWORD", strong=True)),
}
DBA_MANAGED_DATABASES = ["default"]

WECHAT_MINIPROGRAMS = env_secret("WECHAT_MINIPROGRAMS")
SENTRY_DSN = env_secret("SENTRY_DSN")
# Optional, but when set it guards /api/ready's details (corelib.trusted_caller): a real secret.
OPS_TOKEN = env_secret("OPS_TOKEN", strong=True) if os.environ.get("OPS_TOKEN", "").strip() else ""

# nginx terminates TLS and sets X-Forwarded-Proto (see deploy/nginx.conf.template).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Health probes and the metrics scraper come straight to Gunicorn over plain HTTP on the host.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^api/ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

finish_settings(globals())
