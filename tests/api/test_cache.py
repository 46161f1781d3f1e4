"""Board reads come from Redis, and a write is never read as missing after it returned."""

import pytest
import redis
from django.db import connections
from django.test.utils import CaptureQueriesContext

from apps.boards.models import Message
from tests.api.conftest import post

pytestmark = pytest.mark.django_db(databases="__all__")


def messages(person, board_id: int) -> list[dict]:
    return person.api.get(f"/api/v1/boards/{board_id}/messages").json()["items"]


def test_a_cache_hit_touches_no_database(alice, board):
    post(alice, board["id"], "cached")
    messages(alice, board["id"])  # miss: fills the cache

    with CaptureQueriesContext(connections["default"]) as default, CaptureQueriesContext(connections["admin"]) as admin:
        response = alice.api.get(f"/api/v1/boards/{board['id']}/messages")

    assert response.status_code == 200 and response.json()["items"][0]["content"] == "cached"
    assert len(default.captured_queries) == 0 and len(admin.captured_queries) == 0


def test_a_cache_hit_is_one_redis_round_trip_token_check_included(alice, board, monkeypatch):
    post(alice, board["id"], "cached")
    messages(alice, board["id"])  # miss: fills the cache
    sent = []
    send = redis.Redis.execute_command
    monkeypatch.setattr(
        redis.Redis,
        "execute_command",
        lambda client, *args, **options: sent.append(args[0]) or send(client, *args, **options),
    )

    response = alice.api.get(f"/api/v1/boards/{board['id']}/messages")

    assert response.status_code == 200 and response.json()["items"][0]["content"] == "cached"
    assert sent == ["MGET"]


def test_the_page_still_refuses_a_revoked_token_before_anything_else(alice, board):
    messages(alice, board["id"])  # token and page cached
    assert alice.api.post("/api/v1/auth/logout").status_code == 204

    response = alice.api.get(f"/api/v1/boards/{board['id']}/messages")

    assert response.status_code == 401 and response.json()["error"]["code"] == "token_revoked"


def test_a_cache_miss_costs_one_query_per_page_plus_my_likes(alice, board):
    for n in range(30):
        post(alice, board["id"], f"m{n}")
    messages(alice, board["id"])  # the board itself and the token are cached now

    with CaptureQueriesContext(connections["default"]) as default:
        alice.api.get(f"/api/v1/boards/{board['id']}/messages?limit=25&cursor=999999999")

    assert len(default.captured_queries) == 2  # the page (authors joined), whether I liked each


def test_reads_are_really_served_from_the_cache(alice, board):
    message = post(alice, board["id"], "original")
    messages(alice, board["id"])
    # A change behind the service's back (no invalidation) is not seen: the page is cached.
    Message.objects.filter(id=message["id"]).update(content="changed behind the cache")

    assert messages(alice, board["id"])[0]["content"] == "original"


def test_read_your_post(alice, bob, board):
    messages(bob, board["id"])
    messages(alice, board["id"])

    created = post(alice, board["id"], "fresh")

    assert messages(alice, board["id"])[0]["id"] == created["id"]
    assert messages(bob, board["id"])[0]["id"] == created["id"]


def test_read_your_reply(alice, board):
    message = post(alice, board["id"], "thread")
    alice.api.get(f"/api/v1/messages/{message['id']}/replies")
    messages(alice, board["id"])

    reply = alice.api.post(f"/api/v1/messages/{message['id']}/replies", {"content": "r"}).json()

    assert alice.api.get(f"/api/v1/messages/{message['id']}/replies").json()["items"][0]["id"] == reply["id"]
    assert messages(alice, board["id"])[0]["reply_count"] == 1


def test_read_your_like_and_unlike(alice, bob, board):
    message = post(alice, board["id"], "like me")
    messages(bob, board["id"])
    messages(alice, board["id"])

    bob.api.put(f"/api/v1/messages/{message['id']}/like")
    assert (messages(bob, board["id"])[0]["like_count"], messages(bob, board["id"])[0]["liked_by_me"]) == (1, True)
    assert messages(alice, board["id"])[0]["like_count"] == 1

    bob.api.delete(f"/api/v1/messages/{message['id']}/like")
    assert (messages(bob, board["id"])[0]["like_count"], messages(bob, board["id"])[0]["liked_by_me"]) == (0, False)


def test_read_your_delete(alice, bob, board):
    message = post(bob, board["id"], "delete me")
    messages(alice, board["id"])
    messages(bob, board["id"])

    alice.api.delete(f"/api/v1/messages/{message['id']}")

    assert messages(alice, board["id"]) == []
    assert messages(bob, board["id"]) == []


def test_a_hidden_message_disappears_once_the_board_is_invalidated(alice, board):
    from apps.boards.cache import invalidate_board

    message = post(alice, board["id"], "flagged later")
    messages(alice, board["id"])

    Message.objects.filter(id=message["id"]).update(status=Message.Status.HIDDEN)
    invalidate_board(board["id"])  # what the moderation job does after hiding

    assert messages(alice, board["id"]) == []


def test_a_page_stored_late_by_a_reader_that_raced_a_write_is_never_served(alice, board):
    from django.core.cache import cache

    post(alice, board["id"], "first")
    messages(alice, board["id"])
    key = f"b:{board['id']}:msgs:0:20"
    old_version, _ = cache.get(key)
    post(alice, board["id"], "second")  # commits, then moves the board to a new version
    # A reader that loaded before the commit stores its (stale) page after it:
    cache.set(key, (old_version, {"items": [], "next_cursor": None}), 300)

    assert [m["content"] for m in messages(alice, board["id"])] == ["second", "first"]


def test_the_benchmarks_uncached_case_really_reads_mysql_every_time(alice, board, monkeypatch):
    from apps.boards import cache as board_cache
    from bench.uncached import uncached_read

    post(alice, board["id"], "from mysql")
    messages(alice, board["id"])  # would fill the cache
    monkeypatch.setattr(board_cache, "cached_read", uncached_read)

    with CaptureQueriesContext(connections["default"]) as default:
        items = messages(alice, board["id"])

    assert items[0]["content"] == "from mysql"
    assert len(default.captured_queries) == 3  # the board, the page, whether I liked each
