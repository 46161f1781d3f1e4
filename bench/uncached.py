"""The board cache bypassed: what `board uncached` measures (see bench/wsgi_uncached.py)."""

from corelib import cache as safe_cache


def uncached_read(board_id: int, parts: dict, timeout: int = 0, check_first: tuple | None = None) -> dict:
    """apps.boards.cache.cached_read's signature; calls every loader (MySQL), as with Redis down.

    The token check stays as it is: its cached entry is read from Redis, on its own.
    """
    if check_first:
        key, check = check_first
        check(safe_cache.get(key))
    return {suffix: load() for suffix, load in parts.items()}
