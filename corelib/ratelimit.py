"""Fixed-window rate limits shared by every worker through Redis.

`hit("login_ip", ip)` counts one request against the limit named in
settings.RATE_LIMITS ({name: (requests, window_seconds)}) and raises
TooManyRequestsError (429 with Retry-After) once it is exceeded. When Redis is
unreachable the request is allowed: a limit is not worth an outage.

`hit_all()` checks several limits in order in one Redis round trip (a script):
a request refused by one limit is not counted against the limits after it, as
with successive hit() calls, so one address over its login limit cannot spend
its mini-program's.
"""

from __future__ import annotations

import math
import time
from typing import Any

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
    hit_all(("write_user", str(user_id), None), ("write_ip", ip, None))


def hit(name: str, identity: str, field: str | None = None) -> None:
    """Count one request; raise TooManyRequestsError when over the limit."""
    hit_all((name, identity, field))


# KEYS: the counters, in order; ARGV: each one's limit and time to live. Stops at the first counter over its
# limit and answers its position (1-based), or 0 when every limit allows the request.
_HIT_SCRIPT = """
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[2 * i])
    if count > tonumber(ARGV[2 * i - 1]) then
        return i
    end
end
return 0
"""
_script: Any = None  # redis-py's Script: it keeps the SHA and loads the script again on NOSCRIPT


def hit_all(*limits: tuple[str, str, str | None]) -> None:
    """Count one request against each (name, identity, field) in order, in one round trip.

    Raises TooManyRequestsError for the first limit exceeded; the limits after it are not counted.
    """
    if not safe_cache.available():
        return
    now = time.time()
    keys, args, windows = [], [], []
    for name, identity, _field in limits:
        allowed, window = limit_for(name)
        window_start = int(now // window) * window
        keys.append(safe_cache.make_key(f"rl:{name}:{identity}:{window_start}"))
        args += [allowed, window + 1]
        windows.append((allowed, window, window_start))
    try:
        client = safe_cache.raw_client()
        global _script
        if _script is None:
            _script = client.register_script(_HIT_SCRIPT)
        over = int(_script(keys=keys, args=args, client=client))
    except safe_cache.REDIS_ERRORS:
        return
    if over:
        allowed, window, window_start = windows[over - 1]
        retry_after = math.ceil(window_start + window - now)
        raise TooManyRequestsError(
            f"Too many requests: at most {allowed} per {window} s. Try again in {retry_after} s.",
            retry_after=retry_after,
            field=limits[over - 1][2],
        )
