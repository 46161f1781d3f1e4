"""Prometheus metrics: per Gunicorn worker, across workers, and of the RQ queues.

Gunicorn's master sets PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py) before it
forks, so every worker's prometheus_client keeps its values in files there and
any worker's /metrics answers for all of them (prometheus_client's
multiprocess mode). The request hooks in gunicorn.conf.py call
`request_started`/`request_finished`; the connection pool reports its slots.
Without that variable (RQ workers, management commands, tests) the values live
in the process, which is harmless.

Per-worker gauges keep a `pid` label ("liveall": only live workers are shown;
gunicorn.conf.py removes a dead worker's files).

Each prometheus_client update is a locked write to a memory-mapped file: the
request hooks and two pool reports cost about 20 µs a request under gevent.
So a request only adds to this process's counts in memory, and `flush` writes
them out: once a second from the worker's flusher (started by
`worker_started`), when the worker exits (gunicorn.conf.py's worker_exit), and
before this process answers /metrics. Another worker's figures on a scrape are
at most FLUSH_SECONDS old.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from bisect import bisect_left
from collections import Counter as Tally
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess

try:  # a real lock, also in a gevent worker: it is held only over plain Python, never across a switch
    from gevent.monkey import get_original

    _new_lock = get_original("_thread", "allocate_lock")
except ImportError:  # pragma: no cover - gevent is a dependency; the fallback keeps the module importable alone
    from _thread import allocate_lock as _new_lock

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
PAGE_SIZE = resource.getpagesize()
FLUSH_SECONDS = 1.0
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

HTTP_REQUESTS = Counter("miniprogram_http_requests", "HTTP requests answered", ["status"])
HTTP_DURATION = Histogram(
    "miniprogram_http_request_duration_seconds",
    "Time from reading a request to the end of its response",
    buckets=DURATION_BUCKETS,
)
WORKER_REQUESTS = Gauge(
    "miniprogram_worker_requests", "Requests this worker answered since it started", multiprocess_mode="liveall"
)
WORKER_IN_FLIGHT = Gauge("miniprogram_worker_in_flight", "Requests in progress", multiprocess_mode="liveall")
WORKER_RSS = Gauge("miniprogram_worker_rss_bytes", "Resident memory of the worker", multiprocess_mode="liveall")
WORKER_STARTED = Gauge(
    "miniprogram_worker_start_time_seconds", "When the worker started (Unix time)", multiprocess_mode="liveall"
)
DB_SLOTS_IN_USE = Gauge(
    "miniprogram_db_pool_in_use", "Database connection slots in use", ["alias"], multiprocess_mode="liveall"
)
DB_SLOTS_SIZE = Gauge("miniprogram_db_pool_size", "Database connection slots", ["alias"], multiprocess_mode="liveall")


class _Counts:
    """What this process saw since it started (gauges) or since the last flush (counters, the histogram)."""

    def __init__(self) -> None:
        self.lock = _new_lock()
        self.in_flight = 0
        self.answered = 0
        self.statuses: Tally[int] = Tally()
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last one: slower than every bound (+Inf)
        self.duration_sum = 0.0
        self.db_slots: dict[str, tuple[int, int]] = {}
        self.db_slots_changed: set[str] = set()

    def take(self) -> tuple:
        """The deltas to write, and the gauges' values now; the deltas start again from zero."""
        with self.lock:
            taken = (
                self.in_flight,
                self.answered,
                self.statuses,
                self.buckets,
                self.duration_sum,
                {alias: self.db_slots[alias] for alias in self.db_slots_changed},
            )
            self.statuses = Tally()
            self.buckets = [0] * len(self.buckets)
            self.duration_sum = 0.0
            self.db_slots_changed = set()
        return taken


_counts = _Counts()
_flusher: threading.Thread | None = None


def _rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def worker_started() -> None:
    """A Gunicorn worker is ready: show it at once, and write its counts out every FLUSH_SECONDS from now on."""
    global _flusher
    WORKER_STARTED.set(time.time())
    WORKER_RSS.set(_rss_bytes())
    WORKER_REQUESTS.set(0)
    WORKER_IN_FLIGHT.set(0)
    if _flusher is None:
        # A thread: in a gevent worker it is a greenlet (monkey-patched), in a sync or gthread one a real thread.
        _flusher = threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True)
        _flusher.start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


def request_started() -> float:
    with _counts.lock:
        _counts.in_flight += 1
    return time.monotonic()


def request_finished(started: float | None, status: int | None) -> None:
    took = time.monotonic() - started if started is not None else None
    with _counts.lock:
        _counts.in_flight -= 1
        _counts.answered += 1
        _counts.statuses[status or 500] += 1
        if took is not None:
            _counts.buckets[bisect_left(DURATION_BUCKETS, took)] += 1  # a bound is inclusive (le), as observe's
            _counts.duration_sum += took


def db_slots(alias: str, in_use: int, size: int) -> None:
    with _counts.lock:
        _counts.db_slots[alias] = (in_use, size)
        _counts.db_slots_changed.add(alias)


def flush() -> None:
    """Write what this process counted since the last flush into prometheus_client's values."""
    in_flight, answered, statuses, buckets, duration_sum, slots = _counts.take()
    for status, count in statuses.items():
        HTTP_REQUESTS.labels(status=str(status)).inc(count)
    if any(buckets):
        # Histogram.observe adds one to one bucket and the amount to the sum; here many at once, into the same
        # values (prometheus-client is pinned; tests/foundation/test_metrics.py reads back the buckets observe gives).
        for value, count in zip(HTTP_DURATION._buckets, buckets, strict=True):  # noqa: SLF001
            if count:
                value.inc(count)
        HTTP_DURATION._sum.inc(duration_sum)  # noqa: SLF001
    if _flusher is not None:  # the per-worker gauges belong to Gunicorn workers only (worker_started)
        WORKER_IN_FLIGHT.set(in_flight)
        WORKER_REQUESTS.set(answered)
        WORKER_RSS.set(_rss_bytes())
    for alias, (in_use, size) in slots.items():
        DB_SLOTS_IN_USE.labels(alias=alias).set(in_use)
        DB_SLOTS_SIZE.labels(alias=alias).set(size)


def registry(with_rq: bool = True) -> CollectorRegistry:
    """Every worker's values (or this process's) and, read from Redis now, the queues'."""
    collected = CollectorRegistry()
    if MULTIPROCESS:
        prometheus_multiprocess.MultiProcessCollector(collected)
    else:
        for metric in (HTTP_REQUESTS, HTTP_DURATION, WORKER_REQUESTS, WORKER_IN_FLIGHT, WORKER_RSS, WORKER_STARTED):
            collected.register(metric)
        collected.register(DB_SLOTS_IN_USE)
        collected.register(DB_SLOTS_SIZE)
    if with_rq:
        from corelib.rq_metrics import RQCollector

        collected.register(RQCollector())
    return collected


def exposition() -> bytes:
    flush()  # this process's own counts are exact; the other workers' are at most FLUSH_SECONDS old
    return generate_latest(registry())
