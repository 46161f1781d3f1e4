"""A write that committed answers 2xx from what it committed, even if the database goes away right after."""

import pytest
from django.db import connection

from apps.boards import cache as board_cache
from apps.boards.models import Like, Message
from corelib import dbpool
from tests.api.conftest import post
from tests.support import free_port

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


class LoseMysqlAfterCommit:
    """Once a write has committed (its cache invalidation runs), MySQL stops answering this thread."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.port = connection.settings_dict["PORT"]
        self.invalidate = board_cache.invalidate_board

    def arm(self) -> None:
        def invalidate_then_lose_mysql(board_id: int) -> None:
            self.invalidate(board_id)
            connection.close()
            dbpool.reset_pools()
            connection.settings_dict["PORT"] = free_port()  # nothing listens there

        self.monkeypatch.setattr(board_cache, "invalidate_board", invalidate_then_lose_mysql)

    def restore(self) -> None:
        self.monkeypatch.setattr(board_cache, "invalidate_board", self.invalidate)
        connection.close()
        connection.settings_dict["PORT"] = self.port
        dbpool.reset_pools()


@pytest.fixture
def mysql_after_commit(monkeypatch):
    fault = LoseMysqlAfterCommit(monkeypatch)
    yield fault
    fault.restore()


def test_a_post_answers_201_with_the_stored_message_when_mysql_goes_away_after_commit(alice, board, mysql_after_commit):
    mysql_after_commit.arm()

    response = alice.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": "kept"})

    assert response.status_code == 201, response.content
    body = response.json()
    mysql_after_commit.restore()
    assert Message.objects.get(pk=body["id"]).content == "kept"
    assert (body["content"], body["author"]["id"], body["like_count"]) == ("kept", alice.user_id, 0)


def test_a_reply_answers_201_when_mysql_goes_away_after_commit(alice, board, mysql_after_commit):
    message = post(alice, board["id"], "thread")
    mysql_after_commit.arm()

    response = alice.api.post(f"/api/v1/messages/{message['id']}/replies", {"content": "re"})

    assert response.status_code == 201, response.content
    mysql_after_commit.restore()
    assert Message.objects.get(pk=response.json()["id"]).parent_id == message["id"]


def test_a_like_answers_200_with_its_count_when_mysql_goes_away_after_commit(alice, bob, board, mysql_after_commit):
    message = post(alice, board["id"], "like me")
    mysql_after_commit.arm()

    liked = bob.api.put(f"/api/v1/messages/{message['id']}/like")

    assert liked.status_code == 200, liked.content
    assert liked.json() == {"message_id": message["id"], "liked": True, "like_count": 1}
    mysql_after_commit.restore()
    assert Like.objects.filter(message_id=message["id"]).count() == 1
