"""Cache helpers that keep the service answering when Redis is down.

The cache is an optimisation: every helper here swallows Redis errors and
reports a miss (reads) or does nothing (writes), so callers fall back to
MySQL. After a failure, reads skip Redis for a short while instead of paying
the socket timeout on every call; invalidations are always attempted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

REDIS_ERRORS = (RedisError, ConnectionInterrupted, OSError)
# How long reads go straight to MySQL after Redis failed.
BACKOFF_SECONDS = 1.0

_down_until = 0.0


def _mark_down() -> None:
    global _down_until
    _down_until = time.monotonic() + BACKOFF_SECONDS


def available() -> bool:
    return time.monotonic() >= _down_until


def reset_backoff() -> None:
    """Forget a past failure (tests that restart Redis call this)."""
    global _down_until
    _down_until = 0.0


def get(key: str, default: Any = None) -> Any:
    if not available():
        return default
    try:
        return cache.get(key, default)
    except REDIS_ERRORS:
        _mark_down()
        return default


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    if not available():
        return {}
    try:
        return cache.get_many(list(keys))
    except REDIS_ERRORS:
        _mark_down()
        return {}


def set(key: str, value: Any, timeout: float | None) -> None:  # noqa: A001 (mirrors cache.set)
    if not available():
        return
    try:
        cache.set(key, value, timeout)
    except REDIS_ERRORS:
        _mark_down()


def add(key: str, value: Any, timeout: float | None) -> bool:
    """Set only if absent; False when present or Redis is down."""
    if not available():
        return False
    try:
        return bool(cache.add(key, value, timeout))
    except REDIS_ERRORS:
        _mark_down()
        return False


def set_many(values: dict[str, Any], timeout: float | None) -> None:
    if not available() or not values:
        return
    try:
        cache.set_many(values, timeout)
    except REDIS_ERRORS:
        _mark_down()


def force_set(key: str, value: Any, timeout: float | None) -> bool:
    """A write that must reach Redis if it is up at all (a revocation, a version bump)."""
    try:
        cache.set(key, value, timeout)
        return True
    except REDIS_ERRORS:
        _mark_down()
        return False


def delete(*keys: str) -> None:
    """Always attempted, even during the read back-off: a missed delete means a stale read."""
    try:
        cache.delete_many(list(keys))
    except REDIS_ERRORS:
        _mark_down()


def make_key(key: str) -> str:
    """The key as stored in Redis, with this environment's prefix (for raw commands)."""
    return cache.make_key(key)


def raw_client():
    """The pooled redis-py client behind the cache (raises when Redis is unreachable on use)."""
    return get_redis_connection("default")
