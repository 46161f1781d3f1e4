"""Fixed-window rate limits shared by every worker through Redis.

`hit("login_ip", ip)` counts one request against the limit named in
settings.RATE_LIMITS ({name: (requests, window_seconds)}) and raises
TooManyRequestsError (429 with Retry-After) once it is exceeded. When Redis is
unreachable the request is allowed: a limit is not worth an outage.
"""

from __future__ import annotations

import math
import time

from django.conf import settings

from corelib import cache as safe_cache
from corelib.errors import TooManyRequestsError

DEFAULT_LIMITS = {
    "login_ip": (30, 60),
    "login_app": (3000, 60),
    "post_user": (30, 60),
    "write_user": (120, 60),
    "write_ip": (600, 60),
}


def limit_for(name: str) -> tuple[int, int]:
    limits = getattr(settings, "RATE_LIMITS", None) or {}
    return tuple(limits.get(name, DEFAULT_LIMITS[name]))  # type: ignore[return-value]


def hit_write(user_id: int, ip: str) -> None:
    """Count one write (create, like, reply, profile change, logout...) per user and per client address.

    Both limits apply: one account cannot flood, and neither can many accounts
    from one address. The per-address limit is higher, as a carrier's NAT puts
    many people behind one address.
    """
    hit("write_user", str(user_id))
    hit("write_ip", ip)


def hit(name: str, identity: str, field: str | None = None) -> None:
    """Count one request; raise TooManyRequestsError when over the limit."""
    if not safe_cache.available():
        return
    allowed, window = limit_for(name)
    now = time.time()
    window_start = int(now // window) * window
    key = safe_cache.make_key(f"rl:{name}:{identity}:{window_start}")
    try:
        pipe = safe_cache.raw_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count = pipe.execute()[0]
    except safe_cache.REDIS_ERRORS:
        return
    if count > allowed:
        retry_after = math.ceil(window_start + window - now)
        raise TooManyRequestsError(
            f"Too many requests: at most {allowed} per {window} s. Try again in {retry_after} s.",
            retry_after=retry_after,
            field=field,
        )
