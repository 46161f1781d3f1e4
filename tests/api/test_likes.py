"""Like and unlike: idempotent PUT and DELETE."""

import pytest

from apps.boards.models import Like
from tests.api.conftest import error_of, post

pytestmark = pytest.mark.django_db(databases="__all__")


def test_like_is_idempotent(alice, bob, board):
    message = post(alice, board["id"], "like me")
    url = f"/api/v1/messages/{message['id']}/like"

    first = bob.api.put(url)
    second = bob.api.put(url)

    assert first.status_code == 200 and second.status_code == 200
    assert second.json() == {"message_id": message["id"], "liked": True, "like_count": 1}
    assert Like.objects.filter(message_id=message["id"]).count() == 1


def test_unlike_is_idempotent(alice, bob, board):
    message = post(alice, board["id"], "like me")
    url = f"/api/v1/messages/{message['id']}/like"
    bob.api.put(url)
    alice.api.put(url)

    assert bob.api.delete(url).json()["like_count"] == 1
    assert bob.api.delete(url).json() == {"message_id": message["id"], "liked": False, "like_count": 1}
    assert alice.api.delete(url).json()["like_count"] == 0


def test_the_list_says_whether_i_liked_each_message(alice, bob, board):
    liked = post(alice, board["id"], "liked by bob")
    post(alice, board["id"], "not liked")
    bob.api.put(f"/api/v1/messages/{liked['id']}/like")

    mine = {m["id"]: m["liked_by_me"] for m in bob.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]}
    alices = {
        m["id"]: m["liked_by_me"] for m in alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]
    }

    assert mine[liked["id"]] is True and sum(mine.values()) == 1
    assert not any(alices.values())


def test_replies_can_be_liked(alice, bob, board):
    message = post(alice, board["id"], "thread")
    reply = alice.api.post(f"/api/v1/messages/{message['id']}/replies", {"content": "r"}).json()

    bob.api.put(f"/api/v1/messages/{reply['id']}/like")

    (item,) = bob.api.get(f"/api/v1/messages/{message['id']}/replies").json()["items"]
    assert (item["like_count"], item["liked_by_me"]) == (1, True)


def test_it_cannot_like_an_unknown_or_foreign_message(alice, board, carol_other_app):
    message = post(alice, board["id"], "hi")

    assert error_of(alice.api.put("/api/v1/messages/987654321/like"))["field"] == "message_id"
    assert carol_other_app.api.put(f"/api/v1/messages/{message['id']}/like").status_code == 404
    assert alice.api.put("/api/v1/messages/abc/like").status_code == 422
