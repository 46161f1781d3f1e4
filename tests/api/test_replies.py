"""Replying to a message and listing its replies."""

import pytest

from tests.api.conftest import error_of, post

pytestmark = pytest.mark.django_db(databases="__all__")


def reply(person, message_id: int, content: str):
    return person.api.post(f"/api/v1/messages/{message_id}/replies", {"content": content})


def test_it_replies_and_lists_replies_newest_first(alice, bob, board):
    message = post(alice, board["id"], "question?")

    first = reply(bob, message["id"], "answer 1 🙂")
    second = reply(alice, message["id"], "answer 2")

    assert first.status_code == 201 and first.json()["parent_id"] == message["id"]
    replies = alice.api.get(f"/api/v1/messages/{message['id']}/replies").json()
    assert [r["id"] for r in replies["items"]] == [second.json()["id"], first.json()["id"]]
    listed = alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]
    assert [(m["id"], m["reply_count"]) for m in listed] == [(message["id"], 2)]  # replies are not top-level


def test_replies_page_by_cursor(alice, board):
    message = post(alice, board["id"], "thread")
    ids = [reply(alice, message["id"], f"r{n}").json()["id"] for n in range(5)]

    page1 = alice.api.get(f"/api/v1/messages/{message['id']}/replies?limit=3").json()
    page2 = alice.api.get(f"/api/v1/messages/{message['id']}/replies?limit=3&cursor={page1['next_cursor']}").json()

    assert [r["id"] for r in page1["items"] + page2["items"]] == ids[::-1]


def test_it_does_not_reply_to_a_reply(alice, board):
    message = post(alice, board["id"], "thread")
    first = reply(alice, message["id"], "r").json()

    response = reply(alice, first["id"], "nested")

    assert response.status_code == 409
    assert error_of(response)["field"] == "message_id"


def test_it_does_not_reply_to_a_deleted_message(alice, board):
    message = post(alice, board["id"], "gone soon")
    alice.api.delete(f"/api/v1/messages/{message['id']}")

    assert reply(alice, message["id"], "late").status_code == 404
    assert alice.api.get(f"/api/v1/messages/{message['id']}/replies").status_code == 404


def test_replies_of_another_mini_program_are_404(alice, board, carol_other_app):
    message = post(alice, board["id"], "thread")

    assert carol_other_app.api.get(f"/api/v1/messages/{message['id']}/replies").status_code == 404
    assert reply(carol_other_app, message["id"], "hi").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"), [({}, "content"), ({"content": "x" * 501}, "content"), ({"content": {"a": 1}}, "content")]
)
def test_it_names_the_bad_field(alice, board, body, field):
    message = post(alice, board["id"], "thread")

    response = alice.api.post(f"/api/v1/messages/{message['id']}/replies", body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_an_unknown_message_is_404(alice):
    assert error_of(reply(alice, 987654321, "hi"))["code"] == "message_not_found"
    assert alice.api.get("/api/v1/messages/987654321/replies").status_code == 404
