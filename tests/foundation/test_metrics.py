"""A Gunicorn worker's request metrics, counted in memory and written out by its flusher (corelib.metrics)."""

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]

# A stand-in worker: answers four requests that took 3 ms, 30 ms, 300 ms and 20 s (one a 404) and one with
# no start time or status, holds a sixth, reports one DB slot in use, then waits.
WORKER = textwrap.dedent(
    """
    import sys, time
    from corelib import metrics
    metrics.worker_started()
    for took, status in ((0.003, 200), (0.03, 200), (0.3, 404), (20.0, 200)):
        metrics.request_started()
        metrics.request_finished(time.monotonic() - took, status)
    metrics.request_started()
    metrics.request_finished(None, None)
    metrics.request_started()  # one still in flight
    metrics.db_slots("default", 1, 4)
    print("answered", flush=True)
    sys.stdin.read()
    """
)


def read(directory: Path) -> dict:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def value(found: dict, name: str, **labels) -> float | None:
    for (sample, got), number in found.items():
        if sample == name and labels.items() <= dict(got).items():
            return number
    return None


def test_a_workers_requests_reach_the_metrics_files_within_a_second_without_a_scrape_of_its_own(tmp_path):
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=ROOT,
        env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "answered"
        found = wait_until(
            lambda: (got := read(tmp_path)) and value(got, "miniprogram_http_request_duration_seconds_count") and got,
            5,
            "the worker's flusher to write its counts",
        )
        pid = str(worker.pid)

        assert value(found, "miniprogram_http_requests_total", status="200") == 3
        assert value(found, "miniprogram_http_requests_total", status="404") == 1
        assert value(found, "miniprogram_http_requests_total", status="500") == 1  # no status: counted as a 500
        # The same cumulative buckets as Histogram.observe gives: a bound counts what took up to and including it.
        buckets = {
            le: value(found, "miniprogram_http_request_duration_seconds_bucket", le=le)
            for le in ("0.005", "0.01", "0.05", "0.5", "10.0", "+Inf")
        }
        assert buckets == {"0.005": 1, "0.01": 1, "0.05": 2, "0.5": 3, "10.0": 3, "+Inf": 4}
        assert value(found, "miniprogram_http_request_duration_seconds_count") == 4
        assert abs(value(found, "miniprogram_http_request_duration_seconds_sum") - 20.333) < 0.05
        assert value(found, "miniprogram_worker_requests", pid=pid) == 5
        assert value(found, "miniprogram_worker_in_flight", pid=pid) == 1
        assert value(found, "miniprogram_db_pool_in_use", pid=pid, alias="default") == 1
        assert value(found, "miniprogram_db_pool_size", pid=pid, alias="default") == 4
    finally:
        worker.stdin.close()
        worker.wait(timeout=10)
