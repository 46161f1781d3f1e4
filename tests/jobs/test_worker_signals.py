"""Supervisor reloads workers with SIGHUP: no job may be lost or run twice."""

import signal
import subprocess
import time
from datetime import UTC, datetime

import django_rq
from rq import Worker
from rq.job import Job, JobStatus

from tests.jobs.conftest import wait_until
from tests.support import PROJECT_ROOT, PYTHON, stop_process, subprocess_env


def _shutdown_requested(redis_conn, pid: int) -> bool:
    return any(w.shutdown_requested_date for w in Worker.all(connection=redis_conn) if w.pid == pid)


def _seconds_since_shutdown_requested(redis_conn, pid: int) -> float:
    dates = [w.shutdown_requested_date for w in Worker.all(connection=redis_conn) if w.pid == pid]
    return (datetime.now(UTC) - dates[0]).total_seconds() if dates and dates[0] else 0.0


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


def test_more_hups_during_a_job_still_let_it_finish_once(start_worker, redis_conn, key):
    # Deploys may come 0.5 s apart: a reload never turns into a cold shutdown.
    worker = start_worker()
    job = django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 4, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    worker.signal(signal.SIGHUP)
    wait_until(lambda: _shutdown_requested(redis_conn, worker.pid), 10, "the warm shutdown to be recorded")
    for _ in range(4):
        worker.signal(signal.SIGHUP)
        time.sleep(0.5)  # the spacing under test, not a wait for a condition

    assert worker.wait(timeout=40) == 0, worker.output()
    assert int(redis_conn.get(f"{key}:runs")) == 1
    assert Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FINISHED


def test_a_second_term_is_a_cold_shutdown(start_worker, redis_conn, key):
    worker = start_worker()
    django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 30, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    worker.signal(signal.SIGTERM)
    wait_until(lambda: _shutdown_requested(redis_conn, worker.pid), 10, "the warm shutdown to be recorded")
    # rq ignores a second signal within a second of the first (by the date it recorded) as a duplicate.
    wait_until(lambda: _seconds_since_shutdown_requested(redis_conn, worker.pid) > 1.1, 10, "a second to pass")
    worker.signal(signal.SIGTERM)

    worker.wait(timeout=15)
    assert redis_conn.get(f"{key}:runs") is None  # the job was cut short, not finished


def test_a_hup_while_the_worker_imports_django_is_a_warm_exit(tmp_path, redis_conn, django_db_setup):
    # Supervisor starts workers through nohup; manage.py holds a HUP until the worker has its handler.
    process = subprocess.Popen(
        ["nohup", PYTHON, "manage.py", "rqworker", "high", "default", "low"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _holds_hangups(process.pid), 10, "manage.py to hold SIGHUP", step=0.002)
        assert not [w for w in Worker.all(connection=redis_conn) if w.pid == process.pid]  # no handler yet
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=60) == 0
    finally:
        stop_process(process)
    assert not [w for w in Worker.all(connection=redis_conn) if w.pid == process.pid]


def _holds_hangups(pid: int) -> bool:
    """True once manage.py has blocked SIGHUP, i.e. while it imports Django, before any handler exists."""
    try:
        with open(f"/proc/{pid}/status") as status:
            blocked = next(line for line in status if line.startswith("SigBlk:"))
    except (OSError, StopIteration):
        return False
    return bool(int(blocked.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
