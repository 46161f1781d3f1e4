"""Cached board reads, with versioned keys so that no write is ever read as missing.

Every key of a board embeds the board's current version; a write bumps the
version after its transaction commits, before the request returns, so the
writer's next read (and everyone else's) misses and reads MySQL. A reader that
raced with the write may still store a page under the old version: nobody
reads that version again. Pages hold no per-user data; whether I liked each
message is cached beside the page, per user, under the same version.

Redis down: every helper here falls back to the loader (MySQL), see corelib.cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from corelib import cache as safe_cache

PAGE_TTL = 300
VERSION_TTL = 7 * 24 * 3600
MISSING = {"missing": True}


def _version_key(board_id: int) -> str:
    return f"b:{board_id}:ver"


def invalidate_board(board_id: int) -> None:
    """Make every cached read of this board stale. Call after the write has committed."""
    # A fresh unique value rather than INCR: a version lost to eviction can never come back.
    safe_cache.force_set(_version_key(board_id), time.time_ns(), VERSION_TTL)


def board_version(board_id: int) -> int | None:
    """The board's cache version; None when Redis is unavailable (then do not cache)."""
    key = _version_key(board_id)
    version = safe_cache.get(key)
    if version is None:
        safe_cache.add(key, time.time_ns(), VERSION_TTL)
        version = safe_cache.get(key)
    return version


def cached_read(
    board_id: int,
    parts: dict[str, Callable[[], Any]],
    timeout: int = PAGE_TTL,
) -> dict[str, Any]:
    """Read several versioned values of one board in one round trip, loading what is missing.

    `parts` maps a key suffix to the loader of its value; the answer maps the
    same suffixes to the values.
    """
    version = board_version(board_id)
    if version is None:
        return {suffix: load() for suffix, load in parts.items()}
    keys = {suffix: f"b:{board_id}:{version}:{suffix}" for suffix in parts}
    found = safe_cache.get_many(keys.values())
    result, to_store = {}, {}
    for suffix, key in keys.items():
        if key in found:
            result[suffix] = found[key]
        else:
            result[suffix] = to_store[key] = parts[suffix]()
    safe_cache.set_many(to_store, timeout)
    return result


def message_board(message_id: int, load: Callable[[], int | None]) -> int | None:
    """The board a message belongs to: never changes, so cached without a version."""
    key = f"m:{message_id}:board"
    board_id = safe_cache.get(key)
    if board_id is None:
        board_id = load()
        if board_id is not None:
            safe_cache.set(key, board_id, VERSION_TTL)
    return board_id
