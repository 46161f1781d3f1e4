"""Posting messages and reading a board's messages newest first, by cursor."""

import pytest

from apps.boards.models import Message
from tests.api.conftest import error_of, post

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_posts_an_emoji_message_and_reads_it_back(alice, board):
    content = "你好 👋🏽 family: 👨‍👩‍👧‍👦 𝒳"

    created = alice.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": content})

    assert created.status_code == 201
    body = alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()
    assert body["items"][0]["content"] == content
    assert Message.objects.get(id=created.json()["id"]).content == content


def test_a_message_shows_its_author_and_counts(alice, board):
    alice.api.patch("/api/v1/me", {"nickname": "Alice"})
    post(alice, board["id"], "hello")

    item = alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"][0]

    assert item["author"]["id"] == alice.user_id
    assert (item["reply_count"], item["like_count"], item["liked_by_me"]) == (0, 0, False)


def test_it_accepts_exactly_500_characters_of_emoji(alice, board):
    assert alice.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": "😀" * 500}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": ""}, "content"),
        ({"content": "  \n "}, "content"),
        ({"content": "😀" * 501}, "content"),
        ({"content": 5}, "content"),
        ({"content": None}, "content"),
        ({"content": "nul\x00byte"}, "content"),
    ],
)
def test_it_names_the_bad_field(alice, board, body, field):
    response = alice.api.post(f"/api/v1/boards/{board['id']}/messages", body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_it_cannot_post_to_an_unknown_board(alice):
    response = alice.api.post("/api/v1/boards/987654321/messages", {"content": "hi"})

    assert response.status_code == 404


def test_it_cannot_post_to_another_mini_programs_board(board, carol_other_app):
    response = carol_other_app.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": "hi"})

    assert response.status_code == 404
    assert error_of(response)["field"] == "board_id"


def test_pagination_is_stable_while_messages_arrive(alice, bob, board):
    url = f"/api/v1/boards/{board['id']}/messages"
    first_ids = [post(alice, board["id"], f"m{n}")["id"] for n in range(7)]

    page1 = alice.api.get(f"{url}?limit=3").json()
    newer = [post(bob, board["id"], f"new {n}")["id"] for n in range(4)]  # arrive between pages
    page2 = alice.api.get(f"{url}?limit=3&cursor={page1['next_cursor']}").json()
    post(bob, board["id"], "one more")
    page3 = alice.api.get(f"{url}?limit=3&cursor={page2['next_cursor']}").json()

    seen = [m["id"] for page in (page1, page2, page3) for m in page["items"]]
    assert seen == first_ids[::-1]  # each old message once, newest first, none skipped
    assert page3["next_cursor"] is None
    top = alice.api.get(f"{url}?limit=3").json()
    assert [m["id"] for m in top["items"]][1:] == newer[::-1][:2]


def test_messages_of_another_mini_programs_board_are_404(board, carol_other_app):
    assert carol_other_app.api.get(f"/api/v1/boards/{board['id']}/messages").status_code == 404


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "cursor=0", "cursor=x"])
def test_it_names_the_bad_query_parameter(alice, board, query):
    response = alice.api.get(f"/api/v1/boards/{board['id']}/messages?{query}")

    assert response.status_code == 422
    assert error_of(response)["field"] == query.split("=")[0]


def test_hidden_and_deleted_messages_are_not_listed(alice, board):
    shown = post(alice, board["id"], "shown")
    hidden = post(alice, board["id"], "hidden")
    deleted = post(alice, board["id"], "deleted")
    Message.objects.filter(id=hidden["id"]).update(status=Message.Status.HIDDEN)
    from apps.boards.cache import invalidate_board

    invalidate_board(board["id"])  # as the moderation job does
    assert alice.api.delete(f"/api/v1/messages/{deleted['id']}").status_code == 204

    ids = [m["id"] for m in alice.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]]
    assert ids == [shown["id"]]
