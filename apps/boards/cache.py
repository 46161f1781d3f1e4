"""Cached board reads, versioned so that no write is ever read as missing.

Each board has a version in Redis; every cached value of the board is stored
with the version it was loaded under, and is used only while that is still the
board's version. A write sets a new version after its transaction commits and
before the request returns, so the writer's next read (and everyone else's)
misses and reads MySQL. A reader that raced with the write may store a value
under the old version: it is never used. The version and the values travel in
one MGET, so a cache hit is one Redis round trip (the token check can ride along) and no SQL.
Pages hold no per-user data; whether I liked each message is cached beside the
page, per user.

Redis down: every helper here falls back to the loader (MySQL), see corelib.cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from corelib import cache as safe_cache
from corelib import cache_replay

PAGE_TTL = 300
VERSION_TTL = 7 * 24 * 3600
MISSING = {"missing": True}


def _version_key(board_id: int) -> str:
    return f"b:{board_id}:ver"


def invalidate_board(board_id: int) -> None:
    """Make every cached read of this board stale. Call after the write has committed."""
    # A fresh unique value rather than INCR: a version lost to eviction can never come back.
    # If Redis misses it, it is written again as soon as Redis answers (corelib.cache_replay).
    cache_replay.must_set(_version_key(board_id), time.time_ns(), VERSION_TTL)


def _new_version(key: str) -> int | None:
    """Start a version for a board that has none (never cached, or evicted)."""
    if not safe_cache.available():
        return None
    safe_cache.add(key, time.time_ns(), VERSION_TTL)
    return safe_cache.get(key)


def cached_read(
    board_id: int,
    parts: dict[str, Callable[[], Any]],
    timeout: int = PAGE_TTL,
    check_first: tuple[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """Read several cached values of one board in one round trip, loading what is missing or stale.

    `parts` maps a key suffix to the loader of its value; the answer maps the
    same suffixes to the values. `check_first` is (key, check): that key's value
    (None if absent) comes in the same round trip and goes to `check` before any
    loader runs - the caller's token, so a cache hit is one round trip in all.
    """
    version_key = _version_key(board_id)
    keys = {suffix: f"b:{board_id}:{suffix}" for suffix in parts}
    extra = [check_first[0]] if check_first else []
    found = safe_cache.get_many([*extra, version_key, *keys.values()])
    if check_first:
        check_first[1](found.get(check_first[0]))
    version = found.get(version_key)
    if version is None:
        version = _new_version(version_key)
        if version is None:  # Redis unavailable: straight to MySQL, store nothing
            return {suffix: load() for suffix, load in parts.items()}
    result, to_store = {}, {}
    for suffix, key in keys.items():
        entry = found.get(key)
        if entry is not None and entry[0] == version:
            result[suffix] = entry[1]
        else:
            result[suffix] = parts[suffix]()
            to_store[key] = (version, result[suffix])
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
