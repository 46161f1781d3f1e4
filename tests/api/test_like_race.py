"""Likes and unlikes racing on one message: no 5xx, and the counter matches the likes stored."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from apps.boards.models import Like, Message
from corelib import dbpool
from tests.api.conftest import APP_A, log_in, post

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

REQUESTS = 100
THREADS = 30


@pytest.fixture
def roomy_pool(settings):
    # This test is about lock conflicts, not about waiting for a connection slot.
    settings.DB_POOL_SIZE = THREADS + 2
    dbpool.reset_pools()
    yield
    dbpool.reset_pools()


def _in_thread(call):
    def run(*args):
        try:
            return call(*args)
        finally:
            connections.close_all()

    return run


def test_alternating_likes_and_unlikes_from_many_threads_answer_and_count_right(roomy_pool, standin, mini_programs):
    author = log_in(standin, APP_A[0])
    fans = [log_in(standin, APP_A[0]) for _ in range(4)]
    message = post(author, author.api.post("/api/v1/boards", {"title": "race"}).json()["id"], "like me")
    url = f"/api/v1/messages/{message['id']}/like"

    def send(number: int):
        fan = fans[number % len(fans)]
        return fan.api.put(url) if (number // len(fans)) % 2 == 0 else fan.api.delete(url)

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(_in_thread(send), range(REQUESTS)))

    statuses = [answer.status_code for answer in answers]
    assert [status for status in statuses if status >= 500] == [], [a.content for a in answers if a.status_code >= 500]
    assert set(statuses) == {200}
    stored = Like.objects.filter(message_id=message["id"]).count()
    assert Message.objects.get(pk=message["id"]).like_count == stored
    final = author.api.get(f"/api/v1/boards/{message['board_id']}/messages").json()["items"][0]
    assert final["like_count"] == stored


def test_one_user_liking_and_unliking_at_once_never_gets_a_5xx(roomy_pool, standin, mini_programs):
    author = log_in(standin, APP_A[0])
    message = post(author, author.api.post("/api/v1/boards", {"title": "race"}).json()["id"], "like me")
    url = f"/api/v1/messages/{message['id']}/like"

    def send(number: int):
        return author.api.put(url) if number % 2 == 0 else author.api.delete(url)

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(_in_thread(send), range(REQUESTS)))

    assert {answer.status_code for answer in answers} == {200}, [a.content for a in answers if a.status_code != 200]
    stored = Like.objects.filter(message_id=message["id"]).count()
    assert stored in (0, 1)
    assert Message.objects.get(pk=message["id"]).like_count == stored


@pytest.fixture
def short_lock_waits(monkeypatch):
    """This thread's connection gives up on a row lock after 1 s; two attempts per write."""
    from django.db import connection

    from corelib import dbretry

    options = connection.settings_dict["OPTIONS"]
    monkeypatch.setitem(options, "init_command", options["init_command"] + ", innodb_lock_wait_timeout=1")
    monkeypatch.setattr(dbretry, "ATTEMPTS", 2)
    connection.close()
    yield
    connection.close()


def test_a_like_blocked_past_its_retries_answers_503_database_busy_and_changes_nothing(
    alice, bob, board, short_lock_waits
):
    import pymysql
    from django.db import connection

    from tests.api.conftest import error_of

    message = post(alice, board["id"], "locked")
    params = connection.settings_dict
    holder = pymysql.connect(
        host=params["HOST"],
        port=int(params["PORT"]),
        user=params["USER"],
        password=params["PASSWORD"],
        database=params["NAME"],
        autocommit=False,
    )
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT id FROM boards_message WHERE id = %s FOR UPDATE", [message["id"]])
            response = bob.api.put(f"/api/v1/messages/{message['id']}/like")
    finally:
        holder.rollback()
        holder.close()

    assert response.status_code == 503
    assert error_of(response)["code"] == "database_busy"
    assert response["Retry-After"] == "1"
    assert Like.objects.filter(message_id=message["id"]).count() == 0
    assert bob.api.put(f"/api/v1/messages/{message['id']}/like").json()["like_count"] == 1
