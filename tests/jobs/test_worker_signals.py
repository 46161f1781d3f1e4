"""Supervisor reloads workers with SIGHUP: no job may be lost or run twice."""

import signal
import time

import django_rq
from rq import Worker
from rq.job import Job, JobStatus

from tests.jobs.conftest import wait_until


def _shutdown_requested(redis_conn, pid: int) -> bool:
    return any(w.shutdown_requested_date for w in Worker.all(connection=redis_conn) if w.pid == pid)


def test_hup_during_a_job_lets_it_finish_once_then_exits_0(start_worker, redis_conn, key):
    worker = start_worker()
    job = django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 5, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    worker.signal(signal.SIGHUP)

    assert worker.wait(timeout=40) == 0, worker.output()
    assert int(redis_conn.get(f"{key}:runs")) == 1
    assert Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FINISHED
    assert not [w for w in Worker.all(connection=redis_conn) if w.pid == worker.pid]


def test_hup_to_an_idle_worker_exits_0_at_once(start_worker, redis_conn):
    worker = start_worker()

    worker.signal(signal.SIGHUP)

    assert worker.wait(timeout=15) == 0, worker.output()
    assert not [w for w in Worker.all(connection=redis_conn) if w.pid == worker.pid]


def test_a_second_hup_is_a_cold_shutdown(start_worker, redis_conn, key):
    worker = start_worker()
    django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 30, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    worker.signal(signal.SIGHUP)
    wait_until(lambda: _shutdown_requested(redis_conn, worker.pid), 10, "the warm shutdown to be recorded")
    time.sleep(1.2)  # rq ignores a second signal within one second as a duplicate
    worker.signal(signal.SIGHUP)

    worker.wait(timeout=15)
    assert redis_conn.get(f"{key}:runs") is None  # the job was cut short, not finished


def test_a_fixed_name_is_reusable_after_the_worker_was_killed(start_worker, redis_conn):
    first = start_worker("--name", "fixed")
    first.signal(signal.SIGKILL)  # leaves its registration behind, as a Supervisor SIGKILL would
    first.wait(timeout=10)

    second = start_worker("--name", "fixed")

    names = [w.name for w in Worker.all(connection=redis_conn) if w.pid == second.pid]
    assert names and names[0].startswith("fixed.")
    second.signal(signal.SIGHUP)
    assert second.wait(timeout=15) == 0, second.output()
