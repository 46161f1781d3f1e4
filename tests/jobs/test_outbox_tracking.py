"""An outbox row stays open until its job is done; a job Redis lost is pushed again, once."""

from datetime import timedelta

import django_rq
import pytest
import redis
from django.utils import timezone
from rq.job import Job

from corelib.models import OutboxJob
from corelib.outbox import enqueue_on_commit, push_now, relay_outbox
from corelib.outbox_tracking import follow_pushed
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _row(row_id: int) -> OutboxJob:
    return OutboxJob.objects.get(pk=row_id)


def _pushed_long_ago(row: OutboxJob) -> None:
    OutboxJob.objects.filter(pk=row.pk).update(sent_at=timezone.now() - timedelta(minutes=5))


@pytest.fixture
def on_private_redis(private_redis, settings):
    settings.RQ_QUEUES = {name: {**config, "URL": private_redis.url} for name, config in settings.RQ_QUEUES.items()}
    settings.OUTBOX_REPUSH_GRACE = 0
    return private_redis


def test_a_row_stays_open_until_its_job_finished(start_worker, redis_conn, key):
    row = enqueue_on_commit("tests.jobs.sample_jobs.count", key)

    assert (_row(row.pk).state, _row(row.pk).finished_at) == ("pushed", None)
    start_worker()

    wait_until(lambda: _row(row.pk).finished_at, 30, "the row to be closed")
    assert _row(row.pk).state == "finished"
    assert int(redis_conn.get(f"{key}:runs")) == 1


def test_a_job_that_failed_for_good_closes_its_row_as_failed(start_worker):
    row = enqueue_on_commit("tests.jobs.sample_jobs.failing", "on purpose")

    start_worker()

    wait_until(lambda: _row(row.pk).finished_at, 30, "the row to be closed")
    assert _row(row.pk).state == "failed"


def test_the_relay_closes_a_row_whose_job_redis_reports_finished(redis_conn, key):
    row = enqueue_on_commit("tests.jobs.sample_jobs.count", key)
    job = Job.fetch(row.rq_job_id, connection=redis_conn)
    job.set_status("finished")  # as if a worker ran it but could not reach MySQL afterwards
    _pushed_long_ago(row)

    assert relay_outbox() == 0

    assert _row(row.pk).state == "finished"
    django_rq.get_queue("default").empty()


def test_a_queued_job_is_left_alone(redis_conn, key):
    row = enqueue_on_commit("tests.jobs.sample_jobs.count", key)
    _pushed_long_ago(row)

    assert follow_pushed(100) == 0

    assert _row(row.pk).state == "pushed" and _row(row.pk).missing_since is None
    assert django_rq.get_queue("default").job_ids == [row.rq_job_id]
    django_rq.get_queue("default").empty()


def test_a_job_redis_lost_is_pushed_again_with_its_id_after_its_timeout(on_private_redis, start_worker, key):
    private = redis.Redis.from_url(on_private_redis.url)
    row = enqueue_on_commit("tests.jobs.sample_jobs.quick", key)
    assert push_now(row.pk) is False and _row(row.pk).state == "pushed"
    private.flushall()  # what a restart without persistence does
    _pushed_long_ago(row)

    assert follow_pushed(100) == 0  # first seen missing: a lost copy may still run for its timeout
    assert _row(row.pk).missing_since is not None
    assert follow_pushed(100) == 0
    OutboxJob.objects.filter(pk=row.pk).update(missing_since=timezone.now() - timedelta(seconds=6))

    assert follow_pushed(100) == 1
    assert follow_pushed(100) == 0

    assert django_rq.get_queue("default").job_ids == [row.rq_job_id]
    start_worker(REDIS_URL=on_private_redis.url, connection=private)
    wait_until(lambda: _row(row.pk).finished_at, 30, "the job pushed again to finish")
    assert int(private.get(f"{key}:runs")) == 1


def test_a_relay_run_ends_at_once_while_another_one_is_going(redis_conn):
    from corelib.models import OutboxJob as Row
    from corelib.outbox import RELAY_LOCK

    row = Row.objects.create(func_path="tests.jobs.sample_jobs.count", args=["x"], queue="default", state="pending")
    going = redis_conn.lock(RELAY_LOCK, timeout=30)
    assert going.acquire(blocking=False)
    try:
        assert relay_outbox() == 0
        assert _row(row.pk).sent_at is None
    finally:
        going.release()

    assert relay_outbox() == 1
    django_rq.get_queue("default").empty()
