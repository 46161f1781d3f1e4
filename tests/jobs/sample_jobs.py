"""Jobs that exist only for the tests: they record in Redis what happened to them."""

import gc
import os
import sys
import time

from rq import get_current_job

from corelib.jobpolicy import job_policy


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


@job_policy(queue="default", timeout=5)
def quick(key: str) -> int:
    """A job with a short timeout: the outbox may push it again 5 s (+ grace) after Redis lost it."""
    return _redis().incr(f"{key}:runs")


def private_memory_after_full_collection() -> int:
    """kB of memory this work horse holds privately after a full garbage collection."""
    gc.collect()
    fields = dict(line.split()[:2] for line in open("/proc/self/smaps_rollup") if line.split()[0].startswith("Priv"))
    return int(fields["Private_Clean:"]) + int(fields["Private_Dirty:"])


def loaded_modules(names: list[str]) -> list[str]:
    """Which of `names` the worker had imported when it forked this work horse."""
    return [name for name in names if sys.modules.get(name) is not None]  # None: marked absent
