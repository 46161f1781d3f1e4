"""The operator's view of a running stack: Prometheus's /metrics and `manage.py top`.

Both read the Gunicorn workers' metric files (prometheus_client's multiprocess
mode) and RQ's state in Redis; this checks them against the Supervisor stack of
this package: three Gunicorn workers, ten RQ workers and the scheduler.
"""

import re
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]


def scrape(stack, **headers) -> requests.Response:
    return requests.get(f"{stack.url}/metrics", headers=headers, timeout=10)


def samples(text: str) -> list[tuple[str, dict, float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def values(found, name: str, **labels) -> list[float]:
    return [value for sample, got, value in found if sample == name and labels.items() <= got.items()]


def worker_pids(stack) -> set[int]:
    found = samples(scrape(stack).text)
    return {int(labels["pid"]) for name, labels, _ in found if name == "miniprogram_worker_start_time_seconds"}


def every_worker(stack) -> set[int] | None:
    pids = worker_pids(stack)
    return pids if len(pids) == stack.workers else None


# The stack's two MySQL aliases (business data and Django's admin tables): each
# worker opens a pool of `pool` slots for each when it starts.
POOLED_ALIASES = {"default", "admin"}

# pid, req/s, requests, in-flight, RSS MB, age, DB slots in use/size (summed over the aliases)
WORKER_ROW = re.compile(r"^\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)s\s+(\d+)/(\d+)$", re.M)


def rq_ready(stack) -> bool:
    """RUNNING in Supervisor comes before an RQ worker or the scheduler has registered in Redis."""
    found = samples(scrape(stack).text)
    return sum(values(found, "rq_workers")) == 10 and values(found, "rq_scheduler_alive") == [1.0]


def test_metrics_cover_every_gunicorn_worker_and_the_queues(running_stack):
    wait_until(lambda: every_worker(running_stack), 60, "every worker to report")
    wait_until(lambda: rq_ready(running_stack), 90, "ten RQ workers and the scheduler in Redis")
    before = sum(values(samples(scrape(running_stack).text), "miniprogram_http_requests_total", status="200"))
    for _ in range(30):
        assert requests.get(f"{running_stack.url}/api/health/db", timeout=10).status_code == 200

    # Counted by whichever worker answered, summed over all of them; a worker writes its counts out every second.
    answer = wait_until(
        lambda: (got := scrape(running_stack))
        and sum(values(samples(got.text), "miniprogram_http_requests_total", status="200")) - before >= 30
        and got,
        10,
        "the 30 answers to show in /metrics",
    )

    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    found = samples(answer.text)
    assert len(values(found, "miniprogram_worker_requests")) == running_stack.workers
    assert all(rss > 10_000_000 for rss in values(found, "miniprogram_worker_rss_bytes"))
    for alias in POOLED_ALIASES:  # every worker reports its slots, whether or not it has queried yet
        assert values(found, "miniprogram_db_pool_size", alias=alias) == [running_stack.pool] * running_stack.workers
    assert sum(values(found, "miniprogram_http_request_duration_seconds_count")) >= 30
    assert values(found, "rq_redis_up") == [1.0]
    assert {labels["queue"] for name, labels, _ in found if name == "rq_jobs"} == {"high", "default", "low"}
    assert sum(values(found, "rq_workers")) == 10
    assert values(found, "rq_scheduler_alive") == [1.0]


def test_metrics_are_refused_to_an_address_that_is_not_trusted(running_stack):
    # From the internet through nginx: the peer is a trusted proxy, the client is not allowed.
    relayed = scrape(running_stack, **{"X-Forwarded-For": "203.0.113.9"})

    assert relayed.status_code == 403
    assert relayed.json()["error"]["code"] == "forbidden"
    assert "rq_jobs" not in relayed.text


def test_top_shows_each_worker_and_queue_with_rates(running_stack):
    pids = wait_until(lambda: every_worker(running_stack), 60, "every worker to report")
    wait_until(lambda: rq_ready(running_stack), 90, "ten RQ workers and the scheduler in Redis")
    shown = subprocess.run(
        [str(running_stack.checkout / ".venv/bin/python"), "manage.py", "top", "--iterations", "2", "--interval", "1"],
        cwd=running_stack.checkout,
        env={**running_stack.env, "DJANGO_SETTINGS_MODULE": "project.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert shown.returncode == 0, shown.stderr
    second = shown.stdout.split("gunicorn-test  master", 2)[2]
    assert second.startswith(" ") and "alive" in second.splitlines()[0]
    rows = {int(match[0]): match[1:] for match in WORKER_ROW.findall(second)}
    assert set(rows) == pids
    for rate, _requests, _in_flight, rss_mb, _age, _in_use, size in rows.values():
        assert float(rate) >= 0 and float(rss_mb) > 10 and int(size) == running_stack.pool * len(POOLED_ALIASES)
    for queue in ("high", "default", "low"):
        assert re.search(rf"^\s+{queue}\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+\d+$", second, re.M), second
    assert re.search(r"rq workers: \d+ busy, \d+ idle\s+scheduler: alive", second), second
