"""Soft delete: by the author or the board's owner, nobody else."""

import pytest

from apps.boards.models import Message
from tests.api.conftest import error_of, post

pytestmark = pytest.mark.django_db(databases="__all__")


def listed(person, board_id: int) -> list[int]:
    return [m["id"] for m in person.api.get(f"/api/v1/boards/{board_id}/messages").json()["items"]]


def test_the_author_deletes_their_message(alice, bob, board):
    message = post(bob, board["id"], "oops")

    assert bob.api.delete(f"/api/v1/messages/{message['id']}").status_code == 204

    assert message["id"] not in listed(alice, board["id"])
    assert Message.objects.get(id=message["id"]).is_deleted  # soft: the row stays


def test_the_board_owner_deletes_any_message(alice, bob, board):
    message = post(bob, board["id"], "spam")

    assert alice.api.delete(f"/api/v1/messages/{message['id']}").status_code == 204


def test_others_may_not_delete(alice, bob, board, standin):
    message = post(alice, board["id"], "mine")

    response = bob.api.delete(f"/api/v1/messages/{message['id']}")

    assert response.status_code == 403
    assert error_of(response)["field"] == "message_id"
    assert message["id"] in listed(alice, board["id"])


def test_deleting_a_reply_updates_the_count(alice, bob, board):
    message = post(alice, board["id"], "thread")
    reply = bob.api.post(f"/api/v1/messages/{message['id']}/replies", {"content": "r"}).json()

    bob.api.delete(f"/api/v1/messages/{reply['id']}")

    (item,) = alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]
    assert item["reply_count"] == 0
    assert alice.api.get(f"/api/v1/messages/{message['id']}/replies").json()["items"] == []


def test_a_deleted_message_is_gone(alice, board):
    message = post(alice, board["id"], "bye")
    alice.api.delete(f"/api/v1/messages/{message['id']}")

    assert alice.api.delete(f"/api/v1/messages/{message['id']}").status_code == 404
    assert alice.api.put(f"/api/v1/messages/{message['id']}/like").status_code == 404


def test_a_user_of_another_mini_program_cannot_delete(alice, board, standin, carol_other_app):
    message = post(alice, board["id"], "mine")

    assert carol_other_app.api.delete(f"/api/v1/messages/{message['id']}").status_code == 404
