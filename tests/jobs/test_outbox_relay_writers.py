"""A relay batch pushing to a slow Redis never makes a concurrent post wait."""

import threading
import time

import django_rq
import pytest
from django.db import connections

from corelib import outbox
from corelib.models import OutboxJob
from tests.jobs.conftest import wait_until

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

BACKLOG = 1000
REDIS_DELAY = 0.003  # seconds added to every push: a slow or distant Redis
POSTS = 20
# More than the backlog, as when a relay run finds fewer rows than its limit: its scan reaches the
# end of the pending rows, where new rows are inserted.
BATCH = 2 * BACKLOG
# Generous for a loaded 2-core machine: a post takes a few ms; behind a locking relay it waited seconds.
MAX_POST_SECONDS = 0.75


@pytest.fixture
def slow_redis(monkeypatch):
    """Every push waits REDIS_DELAY first; returns the list of rows pushed so far (in push order)."""
    real_push = outbox.push
    pushed: list[int] = []

    def slow_push(row, queues=None):
        time.sleep(REDIS_DELAY)
        real_push(row, queues)
        pushed.append(row.pk)

    monkeypatch.setattr(outbox, "push", slow_push)
    yield pushed
    django_rq.get_queue("default").empty()


def test_posts_during_a_relay_batch_of_1000_rows_with_a_slow_redis_do_not_wait(slow_redis, people, client):
    OutboxJob.objects.bulk_create(
        OutboxJob(func_path="tests.jobs.sample_jobs.count", args=[f"backlog-{n}"], queue="default", state="pending")
        for n in range(BACKLOG)
    )

    def relay():
        # The strictest case: REPEATABLE READ (MySQL's own default; Django asks for READ COMMITTED),
        # where a locking read over the pending rows also locks the gap new rows go into.
        with connections["default"].cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            outbox.push_pending(batch=BATCH)
        finally:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            connections.close_all()

    relay_thread = threading.Thread(target=relay)
    relay_thread.start()
    wait_until(lambda: len(slow_redis) >= 50, 30, "the relay to be under way")

    durations = []
    for n in range(POSTS):
        started = time.monotonic()
        response = client.post(
            f"/api/v1/boards/{people['board'].id}/messages",
            {"content": f"during the relay {n}"},
            content_type="application/json",
            HTTP_AUTHORIZATION=people["auth"],
        )
        durations.append(time.monotonic() - started)
        assert response.status_code == 201, response.content
    relayed_during_the_posts = len(slow_redis) - POSTS
    relay_thread.join(timeout=60)

    print(f"post seconds during the relay: max {max(durations):.4f}, median {sorted(durations)[POSTS // 2]:.4f}")
    assert max(durations) < MAX_POST_SECONDS, durations
    assert relayed_during_the_posts < BACKLOG, "the relay batch ended before the posts: the test proved nothing"
    assert OutboxJob.objects.filter(sent_at__isnull=True).count() == 0
