"""Cache writes that must not be lost to a Redis blip: a board's version bump, a token's revocation.

Both are written after MySQL has the truth. If Redis does not take the write
(a timeout, a restart, a failover) and later comes back with its old data,
readers would get a stale page (up to its 300 s TTL) or honour a revoked token
(up to 600 s). So a write that fails is kept here, per process, and a
background thread (a greenlet under gevent) tries again every REPLAY_EVERY
seconds until Redis takes it: the stale value outlives the outage by about
that long. The values are idempotent (a fresh version, a tombstone), so a
write applied twice, or after another process's newer one, only causes a
cache miss.

A process that dies with writes still pending loses them; the values then
expire with their TTLs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from corelib import cache as safe_cache

logger = logging.getLogger(__name__)

REPLAY_EVERY = 0.5

_pending: dict[str, tuple[Any, float | None]] = {}
_lock = threading.Lock()
_replayer: threading.Thread | None = None


def must_set(key: str, value: Any, timeout: float | None) -> bool:
    """Set `key` now, or as soon as Redis answers again. True when it landed now."""
    if safe_cache.force_set(key, value, timeout):
        with _lock:
            _pending.pop(key, None)  # an older failed value must not land after this one
        return True
    with _lock:
        _pending[key] = (value, timeout)
        _start_replayer()
    return False


def pending() -> int:
    """How many writes wait for Redis in this process."""
    with _lock:
        return len(_pending)


def _start_replayer() -> None:
    global _replayer
    if _replayer is None or not _replayer.is_alive():
        _replayer = threading.Thread(target=_replay_until_done, name="cache-replay", daemon=True)
        _replayer.start()


def replay_once() -> int:
    """Try every pending write once, oldest first; stop at the first failure. Returns how many landed."""
    with _lock:
        batch = list(_pending.items())
    landed = 0
    for key, (value, timeout) in batch:
        if not safe_cache.force_set(key, value, timeout):
            break
        with _lock:
            if _pending.get(key) == (value, timeout):
                del _pending[key]
        landed += 1
    if landed:
        logger.warning("cache: replayed %d invalidation(s) or revocation(s) Redis had missed", landed)
    return landed


def _replay_until_done() -> None:
    global _replayer
    while True:
        time.sleep(REPLAY_EVERY)
        try:
            replay_once()
        except Exception:  # never let the thread die with writes pending
            logger.exception("cache: replay failed")
        with _lock:
            if not _pending:
                _replayer = None
                return
