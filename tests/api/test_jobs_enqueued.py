"""Posting and replying enqueue their background jobs once the transaction commits."""

import django_rq
import pytest
from django.conf import settings

from tests.api.conftest import post

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def enqueued() -> list[tuple[str, list]]:
    jobs = []
    for name in settings.RQ_QUEUES:
        for job in django_rq.get_queue(name).get_jobs():
            jobs.append((job.func_name, list(job.args)))
    return jobs


@pytest.fixture(autouse=True)
def empty_queues():
    for name in settings.RQ_QUEUES:
        django_rq.get_queue(name).empty()


def test_posting_enqueues_moderation(alice, board):
    message = post(alice, board["id"], "moderate me")

    assert ("apps.boards.jobs.moderate_message", [message["id"]]) in enqueued()


def test_replying_enqueues_moderation_and_notification(alice, bob, board):
    message = post(alice, board["id"], "thread")

    reply = bob.api.post(f"/api/v1/messages/{message['id']}/replies", {"content": "r"}).json()

    jobs = enqueued()
    assert ("apps.boards.jobs.moderate_message", [reply["id"]]) in jobs
    assert ("apps.boards.jobs.notify_reply", [reply["id"]]) in jobs


def test_a_rejected_post_enqueues_nothing(alice, board):
    alice.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": ""})
    alice.api.post("/api/v1/boards/987654321/messages", {"content": "no such board"})

    assert enqueued() == []
