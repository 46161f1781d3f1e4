"""WeChat access tokens: one per mini-program, kept in Redis, refreshed ahead of expiry.

WeChat limits how often a token may be fetched and a new token may invalidate
the old one, so every process reads the shared copy in Redis instead of
fetching its own. A scheduled job (every 90 minutes) refreshes each token
before it expires; `call_with_token` fetches a fresh one
when WeChat answers "token expired" and tries once more.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from django.conf import settings
from django_redis import get_redis_connection

from corelib import wechat

logger = logging.getLogger("jobs.wechat_tokens")

T = TypeVar("T")


class MiniProgram(Protocol):
    """What this module needs of a mini-program: the app's model provides it."""

    appid: str
    secret: str


# Refresh when less than this is left: the job runs every 90 minutes and a token lives 120.
REFRESH_AHEAD = 100 * 60
# Stop using a token this long before WeChat's expiry.
SAFETY_MARGIN = 5 * 60


def _redis():
    return get_redis_connection("default")


def _key(appid: str) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:wechat:access_token:{appid}"


def cached_token(appid: str) -> tuple[str, float] | None:
    """(token, expires_at epoch seconds) from Redis, or None."""
    raw = _redis().get(_key(appid))
    if not raw:
        return None
    data = json.loads(raw)
    return data["token"], float(data["expires_at"])


def refresh_token(program: MiniProgram) -> str:
    """Fetch a new token from WeChat and store it for every process."""
    token, expires_in = wechat.fetch_access_token(program.appid, program.secret)
    usable_for = max(60, int(expires_in) - SAFETY_MARGIN)
    payload = json.dumps({"token": token, "expires_at": time.time() + usable_for})
    _redis().set(_key(program.appid), payload, ex=usable_for)
    logger.info("access token of %s refreshed, usable for %ds", program.appid, usable_for)
    return token


def needs_refresh(appid: str, ahead: int = REFRESH_AHEAD) -> bool:
    cached = cached_token(appid)
    return cached is None or cached[1] - time.time() < ahead


def get_token(program: MiniProgram) -> str:
    """The current token, fetched only when Redis has none."""
    cached = cached_token(program.appid)
    if cached is not None:
        return cached[0]
    lock = _redis().lock(f"{_key(program.appid)}:lock", timeout=30, blocking_timeout=10)
    with lock:  # one fetch at a time per mini-program; the others read its result
        cached = cached_token(program.appid)
        return cached[0] if cached is not None else refresh_token(program)


def call_with_token(program: MiniProgram, call: Callable[[str], T]) -> T:
    """Run `call(access_token)`; on WeChat's "token expired/invalid" refresh and try once more."""
    try:
        return call(get_token(program))
    except wechat.AccessTokenError as error:
        logger.info("access token of %s rejected (errcode %s): refreshing", program.appid, error.errcode)
        return call(refresh_token(program))
