"""Supervisor reloads workers with SIGHUP: no job may be lost or run twice."""

import signal
import subprocess
import time

import django_rq
from rq import Worker
from rq.job import Job, JobStatus

from tests.jobs.conftest import wait_until
from tests.support import PROJECT_ROOT, PYTHON, stop_process, subprocess_env


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


def test_a_hup_right_after_the_worker_registers_still_exits_0(tmp_path, redis_conn, django_db_setup):
    # rq registers in Redis before installing its signal handlers; Supervisor's HUP may land in between.
    for attempt in range(3):
        process = subprocess.Popen(
            [PYTHON, "manage.py", "rqworker", "high", "default", "low"],
            cwd=PROJECT_ROOT,
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            pid = process.pid
            wait_until(
                lambda pid=pid: any(w.pid == pid for w in Worker.all(connection=redis_conn)),
                30,
                "the worker to register",
                step=0.001,
            )
            process.send_signal(signal.SIGHUP)
            assert process.wait(timeout=15) == 0, f"attempt {attempt}"
        finally:
            stop_process(process)
    assert not [w for w in Worker.all(connection=redis_conn) if w.pid == process.pid]
