"""Sentry set-up for web processes and RQ workers alike.

Called from the settings, so `manage.py rqworker` gets the RQ integration too.
"""

import sentry_sdk
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.rq import RqIntegration

SCRUBBED_KEYS = {"session_key", "secret", "password", "token", "authorization", "api_token", "code"}


def scrub(value):
    """Replace the value of any sensitive key, at any depth."""
    if isinstance(value, dict):
        return {key: "[Filtered]" if str(key).lower() in SCRUBBED_KEYS else scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def before_send(event, hint):
    return scrub(event)


def init_sentry(dsn: str, environment: str, release: str = "") -> None:
    if not dsn:
        return
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), RqIntegration()],
        send_default_pii=False,
        before_send=before_send,
        traces_sample_rate=0.0,
    )
