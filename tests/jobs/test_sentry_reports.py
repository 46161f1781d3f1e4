"""Sentry hears about every failed job once, tagged, and never sees a secret."""

import json
import os
import signal

import django_rq
from rq.job import Job, JobStatus

from corelib.sentry import before_send
from tests.jobs.conftest import sentry_events, wait_until

TAGS = {"queue", "job_id", "job_func", "worker"}


def test_a_raising_job_sends_one_tagged_event(start_worker, sentry, redis_conn):
    worker = start_worker(SENTRY_DSN=sentry.dsn())
    reason = "WeChat said no for https://api.example/x?access_token=TOKEN123&session_key=SK456"
    job = django_rq.get_queue("low").enqueue("tests.jobs.sample_jobs.failing", reason)

    wait_until(lambda: Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FAILED, 30, "the failure")
    wait_until(lambda: sentry_events(sentry), 15, "the Sentry event")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0

    events = sentry_events(sentry)
    assert len(events) == 1, events
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["environment"] == "pytest"  # the worker runs on the suite's settings
    assert TAGS <= set(event["tags"])
    assert event["tags"]["queue"] == "low"
    assert event["tags"]["job_id"] == job.id
    assert event["tags"]["job_func"] == "tests.jobs.sample_jobs.failing"
    assert event["tags"]["worker"]
    text = json.dumps(event)
    assert "TOKEN123" not in text and "SK456" not in text


def test_a_killed_work_horse_is_failed_and_reported_once(start_worker, sentry, redis_conn, key):
    worker = start_worker(SENTRY_DSN=sentry.dsn())
    job = django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 60, key)
    horse_pid = int(wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start"))

    os.kill(horse_pid, signal.SIGKILL)

    wait_until(lambda: Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FAILED, 30, "the failure")
    assert job.id in django_rq.get_queue("default").failed_job_registry.get_job_ids()
    wait_until(lambda: sentry_events(sentry), 15, "the Sentry event")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0

    events = sentry_events(sentry)
    assert len(events) == 1, events
    assert "Work horse killed by signal 9" in events[0]["message"] or "Work horse killed by signal 9" in json.dumps(
        events[0].get("logentry", {})
    )
    assert events[0]["tags"]["job_id"] == job.id
    assert events[0]["tags"]["job_func"] == "tests.jobs.sample_jobs.sleepy"
    assert redis_conn.get(f"{key}:runs") is None


def test_before_send_removes_secrets_at_any_depth():
    event = {
        "extra": {"user": {"openid": "o1", "session_key": "SK"}, "secret": "S"},
        "breadcrumbs": {"values": [{"data": {"url": "https://x/cgi?access_token=AT1&appid=wx1"}}]},
        "message": "login failed: session_key='SK2', js_code=C3",
    }

    text = json.dumps(before_send(event, {}))

    for secret in ("SK", "SK2", "AT1", "C3", '"S"'):
        assert secret not in text.replace("[Filtered]", "")
    assert "wx1" in text and "o1" in text


def test_a_job_abandoned_by_a_dead_worker_is_failed_and_reported_once(start_worker, sentry, redis_conn, key):
    dead = start_worker(SENTRY_DSN=sentry.dsn())
    queue = django_rq.get_queue("default")
    job = queue.enqueue("tests.jobs.sample_jobs.sleepy", 60, key)
    horse_pid = int(wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start"))
    dead.signal(signal.SIGKILL)  # worker and horse die together, as on a machine crash
    os.kill(horse_pid, signal.SIGKILL)
    dead.wait(timeout=10)
    # rq declares the job abandoned once its heartbeat lapses (~90 s): let that time pass at once.
    registry = queue.started_job_registry
    redis_conn.zadd(registry.key, dict.fromkeys(redis_conn.zrange(registry.key, 0, -1), 1), xx=True)

    survivor = start_worker(SENTRY_DSN=sentry.dsn())  # cleans the registries when it starts

    wait_until(lambda: Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FAILED, 30, "the failure")
    assert job.id in queue.failed_job_registry.get_job_ids()
    wait_until(lambda: sentry_events(sentry), 15, "the Sentry event")
    survivor.signal(signal.SIGTERM)
    assert survivor.wait(timeout=20) == 0
    events = sentry_events(sentry)
    assert len(events) == 1, events
    assert "abandoned" in json.dumps(events[0])
    assert events[0]["tags"]["job_id"] == job.id
    assert events[0]["tags"]["queue"] == "default"
