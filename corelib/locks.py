"""A Redis lock that degrades to "no lock" when Redis is down.

Used where a lock prevents wasted work or a burst of duplicate inserts, and a
database constraint is the real guarantee (where a `with cache.lock(...)` would otherwise stand).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from redis.exceptions import LockError

from corelib.cache import REDIS_ERRORS


@contextmanager
def redis_lock(name: str, timeout: float = 10.0, wait: float = 5.0) -> Iterator[bool]:
    """Hold `lock:<name>` for at most `timeout` seconds, waiting up to `wait` for it.

    Yields True when the lock is held, False when it could not be taken (Redis
    down, or still busy after `wait`): the caller proceeds either way and relies
    on its constraint.
    """
    try:
        lock = cache.lock(f"lock:{name}", timeout=timeout, blocking_timeout=wait)
        acquired = lock.acquire()
    except REDIS_ERRORS:
        yield False
        return
    try:
        yield bool(acquired)
    finally:
        if acquired:
            try:
                lock.release()
            except (LockError, *REDIS_ERRORS):
                pass  # expired or Redis gone: the lock frees itself by timeout
