"""RQ's state as Prometheus gauges, read from Redis when scraped: jobs per queue and state, workers, scheduler."""

from __future__ import annotations

from collections.abc import Iterator

import django_rq
import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from rq import Worker

SCHEDULER_PREFIX = "rq:scheduler_instance:"  # rq-scheduler's key per running scheduler (expires if it dies)
PERIODIC_JOBS_KEY = "rq:scheduler:scheduled_jobs"


def queue_counts() -> dict[str, dict[str, int]]:
    counts = {}
    for name in settings.RQ_QUEUES:
        queue = django_rq.get_queue(name)
        counts[name] = {
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "finished": queue.finished_job_registry.count,
            "deferred": queue.deferred_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
        }
    return counts


def worker_states(connection: redis.Redis) -> dict[str, int]:
    states = {"busy": 0, "idle": 0, "other": 0}
    for worker in Worker.all(connection=connection):
        state = str(getattr(worker.get_state(), "value", worker.get_state()))
        states[state if state in states else "other"] += 1
    return states


def schedulers_alive(connection: redis.Redis) -> int:
    keys = list(connection.scan_iter(f"{SCHEDULER_PREFIX}*"))
    return sum(1 for key in keys if connection.exists(key) and not connection.hexists(key, "death"))


class RQCollector:
    """A prometheus_client collector; a Redis that does not answer shows as rq_redis_up 0."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("rq_redis_up", "1 when the queues' Redis answered this scrape")
        try:
            connection = django_rq.get_connection("default")
            counts = queue_counts()
            workers = worker_states(connection)
            schedulers = schedulers_alive(connection)
            periodic = connection.zcard(PERIODIC_JOBS_KEY)
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("rq_jobs", "Jobs per queue and state", labels=["queue", "state"])
        for queue, states in counts.items():
            for state, count in states.items():
                jobs.add_metric([queue, state], count)
        yield jobs
        by_state = GaugeMetricFamily("rq_workers", "RQ workers per state", labels=["state"])
        for state, count in workers.items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("rq_scheduler_alive", "Running rq-scheduler processes", value=schedulers)
        yield GaugeMetricFamily("rq_periodic_jobs", "Jobs registered with rq-scheduler", value=periodic)
