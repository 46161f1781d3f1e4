"""Sentry set-up for web processes and RQ workers alike.

Called from the settings, so `manage.py rqworker` gets the RQ integration too
(no second `init` in the worker). Every event goes through `before_send`,
which removes secrets: values under sensitive keys at any depth, and
`key=value` pairs for those keys inside strings (URLs with an access_token,
exception messages, breadcrumbs). WeChat's session_key never leaves the server.
"""

import re

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.integrations.rq import RqIntegration

FILTERED = "[Filtered]"
SCRUBBED_KEYS = {
    "session_key",
    "secret",
    "appsecret",
    "password",
    "token",
    "access_token",
    "authorization",
    "api_token",
    "code",
    "js_code",
    "cookie",
    "sessionid",
    "csrftoken",
    "secret_key",
    "sentry_dsn",
}
_IN_STRING = re.compile(
    r"(?P<key>\b(?:" + "|".join(sorted(SCRUBBED_KEYS, key=len, reverse=True)) + r"))"
    r"(?P<sep>['\"]?\s*[=:]\s*['\"]?)(?P<value>[^&\s'\",;)}]+)",
    re.IGNORECASE,
)

# Loggers whose errors the worker reports itself, with tags: no second event from logging.
SELF_REPORTING_LOGGERS = ("corelib.rq", "rq.registry", "rq.job")


def scrub_string(text: str) -> str:
    return _IN_STRING.sub(lambda match: f"{match['key']}{match['sep']}{FILTERED}", text)


def scrub(value):
    """Replace the value of any sensitive key, at any depth, and secrets inside strings."""
    if isinstance(value, dict):
        return {key: FILTERED if str(key).lower() in SCRUBBED_KEYS else scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_string(value)
    return value


def before_send(event, hint):
    return scrub(event)


def before_breadcrumb(crumb, hint):
    return scrub(crumb)


def init_sentry(dsn: str, environment: str, release: str = "") -> None:
    if not dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        # Only these two: the SDK would otherwise import and enable an integration for every
        # library it finds installed (Redis among them), 1.2 MB more in each of the stack's
        # processes for breadcrumbs of Redis commands (python -m bench.memory).
        integrations=[DjangoIntegration(), RqIntegration()],
        auto_enabling_integrations=False,
        send_default_pii=False,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        traces_sample_rate=0.0,
    )
    for name in SELF_REPORTING_LOGGERS:
        ignore_logger(name)
