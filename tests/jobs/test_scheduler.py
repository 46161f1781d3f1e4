"""Schedules are declared in code, registered once however often the scheduler restarts, and run."""

import signal

import django_rq
import pytest
from rq.job import Job
from rq_scheduler import Scheduler

from corelib.models import OutboxJob
from corelib.scheduler import GracefulScheduler, Schedule, declared_schedules, register_schedules
from tests.jobs.conftest import wait_until


def _scheduled(redis_conn) -> list[Job]:
    return list(Scheduler(connection=redis_conn).get_jobs())


def test_schedules_are_registered_once_however_often_the_scheduler_starts(start_scheduler, redis_conn):
    for _ in range(3):
        scheduler = start_scheduler()
        assert "schedules registered" in scheduler.output()
        scheduler.signal(signal.SIGHUP)  # Supervisor's reload
        assert scheduler.wait(timeout=15) == 0
    for _ in range(10):
        register_schedules(GracefulScheduler(connection=redis_conn, interval=1))

    jobs = _scheduled(redis_conn)
    declared = declared_schedules()
    assert sorted(job.id for job in jobs) == sorted(schedule.job_id for schedule in declared)
    for schedule in declared:
        assert [job.func_name for job in jobs].count(schedule.func_path) == 1


def test_a_changed_schedule_replaces_the_old_one_and_a_dropped_one_goes(redis_conn, start_scheduler):
    scheduler = GracefulScheduler(connection=redis_conn, interval=1)
    register_schedules(scheduler)
    changed = [Schedule("relay-outbox", "corelib.outbox.relay_outbox", interval=7)]

    outcome = register_schedules(scheduler, changed)

    assert outcome["schedule-relay-outbox"] == "replaced"
    assert outcome["schedule-refresh-access-tokens"] == "removed"
    jobs = _scheduled(redis_conn)
    assert [(job.id, job.meta["interval"]) for job in jobs] == [("schedule-relay-outbox", 7)]


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_scheduled_relay_really_runs_and_pushes_a_pending_job_once(start_worker, start_scheduler, redis_conn, key):
    row = OutboxJob.objects.create(func_path="tests.jobs.sample_jobs.count", args=[key], queue="default")
    start_worker()
    scheduler = start_scheduler(SCHEDULER_INTERVAL=1, OUTBOX_RELAY_INTERVAL=1)

    wait_until(lambda: redis_conn.get(f"{key}:runs"), 40, "the relayed job to run")
    relay = Job.fetch("schedule-relay-outbox", connection=redis_conn)
    wait_until(lambda: len(relay.results()) >= 3, 30, "the relay to run a few more times")

    row.refresh_from_db()
    assert row.sent_at is not None
    assert int(redis_conn.get(f"{key}:runs")) == 1
    scheduler.signal(signal.SIGHUP)
    assert scheduler.wait(timeout=15) == 0
    assert django_rq.get_queue("default").count == 0
