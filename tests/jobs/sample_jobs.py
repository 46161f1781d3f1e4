"""Jobs that exist only for the tests: they record in Redis what happened to them."""

import os
import time

from rq import get_current_job


def _redis():
    return get_current_job().connection


def sleepy(seconds: float, key: str) -> str:
    """Note the work horse's pid, sleep, then count one completed run."""
    redis = _redis()
    redis.set(f"{key}:pid", os.getpid())
    time.sleep(seconds)
    redis.incr(f"{key}:runs")
    return "slept"


def count(key: str) -> int:
    return _redis().incr(f"{key}:runs")


def failing(reason: str) -> None:
    raise RuntimeError(reason)
