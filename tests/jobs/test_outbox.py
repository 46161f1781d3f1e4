"""The transactional outbox: a job is recorded with its write and reaches RQ exactly once."""

import django_rq
import pytest
import redis
from django.db import transaction
from rq.job import Job, JobStatus

from apps.boards.models import Message
from corelib import cache as safe_cache
from corelib.models import OutboxJob
from corelib.outbox import enqueue_on_commit, push_now, relay_outbox
from tests.jobs.conftest import wait_until, wechat_calls

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_a_job_is_sent_after_commit_with_the_row_key_as_job_id(redis_conn, key):
    with transaction.atomic():
        row = enqueue_on_commit("tests.jobs.sample_jobs.count", key)
        assert not Job.exists(row.rq_job_id, connection=redis_conn)

    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.rq_job_id in django_rq.get_queue("default").job_ids
    django_rq.get_queue("default").empty()


def test_a_rolled_back_write_sends_no_job():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("tests.jobs.sample_jobs.count", "never")
        raise RuntimeError("the business write failed")

    assert not OutboxJob.objects.exists()
    assert django_rq.get_queue("default").count == 0


def test_a_row_is_pushed_once_however_often_it_is_relayed(redis_conn, key):
    row = OutboxJob.objects.create(func_path="tests.jobs.sample_jobs.count", args=[key], queue="default")
    # As if a pusher died after Redis took the job but before the row was marked sent.
    assert push_now(row.pk)
    OutboxJob.objects.filter(pk=row.pk).update(sent_at=None)

    assert relay_outbox() == 1  # marks the row: Redis refuses a second job with the same id
    assert relay_outbox() == 0
    assert push_now(row.pk) is False
    assert django_rq.get_queue("default").job_ids.count(row.rq_job_id) == 1
    django_rq.get_queue("default").empty()


def test_a_row_id_used_before_by_another_database_still_gets_its_job(redis_conn, key):
    # Another checkout or a reset database sharing this Redis pushed a row with the same id.
    earlier = OutboxJob.objects.create(func_path="tests.jobs.sample_jobs.count", args=["earlier"], queue="default")
    assert push_now(earlier.pk)
    reused_id = earlier.pk
    earlier.delete()
    django_rq.get_queue("default").empty()

    row = OutboxJob.objects.create(pk=reused_id, func_path="tests.jobs.sample_jobs.count", args=[key], queue="default")
    assert push_now(row.pk)

    row.refresh_from_db()
    assert row.sent_at is not None
    job = Job.fetch(row.rq_job_id, connection=redis_conn)
    assert job.args == [key]
    assert django_rq.get_queue("default").job_ids == [row.rq_job_id]
    django_rq.get_queue("default").empty()


def test_posting_while_redis_is_down_succeeds_and_the_job_runs_once_redis_is_back(
    client, people, wechat, private_redis, settings, start_worker
):
    settings.RQ_QUEUES = {name: {**config, "URL": private_redis.url} for name, config in settings.RQ_QUEUES.items()}
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": private_redis.url}}
    private_redis.stop()

    response = client.post(
        f"/api/v1/boards/{people['board'].id}/messages",
        {"content": "written while Redis is down"},
        content_type="application/json",
        HTTP_AUTHORIZATION=people["auth"],
    )

    assert response.status_code == 201, response.content
    row = OutboxJob.objects.get(func_path="apps.boards.jobs.moderate_message")
    assert row.sent_at is None and row.attempts == 1 and "ConnectionError" in row.last_error

    private_redis.start()
    safe_cache.reset_backoff()
    private = redis.Redis.from_url(private_redis.url)
    start_worker(WECHAT_API_BASE=wechat, REDIS_URL=private_redis.url, connection=private)
    assert relay_outbox() == 1
    assert relay_outbox() == 0

    message_id = response.json()["id"]
    wait_until(lambda: Message.objects.get(pk=message_id).moderated_at, 30, "the moderation")
    job = Job.fetch(row.rq_job_id, connection=private)
    wait_until(lambda: job.get_status() == JobStatus.FINISHED, 10, "the job to finish")
    assert len(job.results()) == 1
    assert len(wechat_calls(wechat, "/wxa/msg_sec_check")) == 1
