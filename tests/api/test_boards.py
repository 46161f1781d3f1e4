"""Boards: create, read one, list mine."""

import pytest

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_creates_and_reads_a_board(alice):
    created = alice.api.post("/api/v1/boards", {"title": "  班级留言板 ✨ ", "description": "hi"})

    assert created.status_code == 201
    board = alice.api.get(f"/api/v1/boards/{created.json()['id']}").json()
    assert board["title"] == "班级留言板 ✨"
    assert board["owner_id"] == alice.user_id


def test_it_lists_my_boards_newest_first_with_a_cursor(alice, bob):
    ids = [alice.api.post("/api/v1/boards", {"title": f"board {n}"}).json()["id"] for n in range(3)]
    bob.api.post("/api/v1/boards", {"title": "not alice's"})

    first = alice.api.get("/api/v1/boards?limit=2").json()
    second = alice.api.get(f"/api/v1/boards?limit=2&cursor={first['next_cursor']}").json()

    assert [b["id"] for b in first["items"]] == ids[::-1][:2]
    assert [b["id"] for b in second["items"]] == ids[:1]
    assert second["next_cursor"] is None


def test_someone_else_can_read_my_board(board, bob):
    assert bob.api.get(f"/api/v1/boards/{board['id']}").status_code == 200


def test_a_board_of_another_mini_program_does_not_exist(board, carol_other_app):
    response = carol_other_app.api.get(f"/api/v1/boards/{board['id']}")

    assert response.status_code == 404
    assert error_of(response)["field"] == "board_id"


def test_an_unknown_board_is_404(alice):
    assert error_of(alice.api.get("/api/v1/boards/987654321"))["code"] == "board_not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 101}, "title"),
        ({"title": ["x"]}, "title"),
        ({"title": "ok", "description": "d" * 501}, "description"),
        ({"title": "ok", "description": None}, "description"),
    ],
)
def test_it_names_the_bad_field(alice, body, field):
    response = alice.api.post("/api/v1/boards", body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/boards/abc", "/api/v1/boards?limit=0", "/api/v1/boards?cursor=-1"])
def test_it_names_bad_path_and_query_values(alice, path):
    response = alice.api.get(path)

    assert response.status_code == 422
    assert error_of(response)["field"] in {"board_id", "limit", "cursor"}


def test_a_board_read_before_it_existed_is_served_once_created(alice):
    from django.db import connection

    from apps.boards.models import Board

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [Board._meta.db_table],
        )
        (next_id,) = cursor.fetchone()
    assert alice.api.get(f"/api/v1/boards/{next_id}").status_code == 404  # cached as missing

    created = alice.api.post("/api/v1/boards", {"title": "new"}).json()

    assert created["id"] == next_id
    assert alice.api.get(f"/api/v1/boards/{next_id}").status_code == 200
