"""A posted message is moderated by a real worker through WeChat msg_sec_check."""

import pytest
import requests
from rq import Retry

from apps.boards.jobs import moderate_message
from apps.boards.models import Message
from tests.jobs.conftest import wait_until, wechat_calls

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _post(client, people, content: str):
    return client.post(
        f"/api/v1/boards/{people['board'].id}/messages",
        {"content": content},
        content_type="application/json",
        HTTP_AUTHORIZATION=people["auth"],
    )


def _visible_ids(client, people) -> list[int]:
    response = client.get(f"/api/v1/boards/{people['board'].id}/messages", HTTP_AUTHORIZATION=people["auth"])
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def test_a_flagged_post_is_hidden_by_the_worker_and_leaves_the_cached_board(client, people, wechat, start_worker):
    requests.post(f"{wechat}/__standin__/flagged", json={"words": ["spamword"]}, timeout=5)
    clean = _post(client, people, "hello board")
    flagged = _post(client, people, "buy spamword now")
    assert clean.status_code == flagged.status_code == 201
    flagged_id, clean_id = flagged.json()["id"], clean.json()["id"]
    assert _visible_ids(client, people) == [flagged_id, clean_id]  # now in the cache too

    start_worker(WECHAT_API_BASE=wechat)

    wait_until(lambda: Message.objects.filter(moderated_at__isnull=False).count() == 2, 30, "both moderations")
    assert Message.objects.get(pk=flagged_id).status == Message.Status.HIDDEN
    assert Message.objects.get(pk=clean_id).status == Message.Status.VISIBLE
    assert _visible_ids(client, people) == [clean_id]
    assert len(wechat_calls(wechat, "/wxa/msg_sec_check")) == 2


def test_moderation_is_idempotent(people, wechat, settings):
    settings.WECHAT_API_BASE = wechat
    message = Message.objects.create(board=people["board"], author=people["user"], content="fine words")

    assert moderate_message(message.id) == "passed"
    assert moderate_message(message.id) == "skipped"
    assert len(wechat_calls(wechat, "/wxa/msg_sec_check")) == 1


def test_an_expired_access_token_is_refreshed_and_the_check_retried(people, wechat, settings):
    settings.WECHAT_API_BASE = wechat
    first = Message.objects.create(board=people["board"], author=people["user"], content="one")
    second = Message.objects.create(board=people["board"], author=people["user"], content="two")
    moderate_message(first.id)
    requests.post(f"{wechat}/__standin__/expire_tokens", timeout=5)

    assert moderate_message(second.id) == "passed"
    token_calls = wechat_calls(wechat, "/cgi-bin/stable_token")
    assert len(token_calls) == 2  # the first token, then one refresh after WeChat's 42001


def test_moderation_declares_five_retries_with_growing_backoff():
    retry = moderate_message.job_policy.retry()

    assert isinstance(retry, Retry)
    assert retry.max == 5 and retry.intervals == [10, 30, 120, 600, 1800]
    assert moderate_message.job_policy.timeout == 30


def test_a_wechat_failure_is_retried_later_by_the_scheduler(people, wechat, start_worker, start_scheduler, redis_conn):
    from django.db import transaction
    from rq.job import Job

    from corelib.outbox import enqueue_on_commit

    requests.post(f"{wechat}/__standin__/faults", json={"path": "/wxa/msg_sec_check", "http_status": 503}, timeout=5)
    with transaction.atomic():
        message = Message.objects.create(board=people["board"], author=people["user"], content="try again")
        row = enqueue_on_commit("apps.boards.jobs.moderate_message", message.id)
    start_worker(WECHAT_API_BASE=wechat)
    start_scheduler(SCHEDULER_INTERVAL=1)  # moves the retry (due after 10 s) back into its queue

    wait_until(lambda: Message.objects.get(pk=message.pk).moderated_at, 60, "the retried moderation")
    assert len(wechat_calls(wechat, "/wxa/msg_sec_check")) == 2
    assert Job.fetch(row.rq_job_id, connection=redis_conn).retries_left == 4
