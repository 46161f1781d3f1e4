"""The board cache bypassed: what `board uncached` measures (see bench/wsgi_uncached.py)."""


def uncached_read(board_id: int, parts: dict, timeout: int = 0) -> dict:
    """apps.boards.cache.cached_read's signature; calls every loader (MySQL), as with Redis down."""
    return {suffix: load() for suffix, load in parts.items()}
