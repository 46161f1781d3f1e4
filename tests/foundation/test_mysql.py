"""utf8mb4 end to end in MariaDB, and Django admin on its own database."""

import pytest
from django.contrib.auth.models import User
from django.db import connections

from apps.accounts.models import MiniProgram, WxUser
from apps.boards.models import Board, Message

EMOJI_TEXT = "留言 😀🎉 𠮷"  # 4-byte characters: emoji and a supplementary-plane CJK character


@pytest.fixture
def author(db):
    program = MiniProgram.objects.create(appid="wxemoji", secret="secret")
    return WxUser.objects.create(mini_program=program, openid="o-emoji", nickname="😀 nick")


@pytest.mark.django_db(databases="__all__")
def test_a_four_byte_emoji_round_trips_through_a_model_field(author):
    board = Board.objects.create(mini_program=author.mini_program, owner=author, title="🎈 board")
    message = Message.objects.create(board=board, author=author, content=EMOJI_TEXT)

    assert Message.objects.get(pk=message.pk).content == EMOJI_TEXT
    assert WxUser.objects.get(pk=author.pk).nickname == "😀 nick"
    assert Board.objects.get(pk=board.pk).title == "🎈 board"


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("table", ["boards_message", "accounts_wxuser", "boards_board"])
def test_business_tables_are_utf8mb4(table):
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [table],
        )
        (collation,) = cursor.fetchone()
        cursor.execute("SELECT @@character_set_connection, @@collation_connection")
        connection_charset, connection_collation = cursor.fetchone()
    assert collation == "utf8mb4_unicode_ci"
    assert connection_charset == "utf8mb4"
    assert connection_collation == "utf8mb4_unicode_ci"


@pytest.mark.django_db(databases="__all__")
def test_the_connection_runs_in_strict_mode():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT @@SESSION.sql_mode")
        (mode,) = cursor.fetchone()
    assert "STRICT_TRANS_TABLES" in mode


def tables_of(alias: str) -> set[str]:
    return set(connections[alias].introspection.table_names())


@pytest.mark.django_db(databases="__all__")
def test_each_database_holds_only_its_own_tables():
    admin_tables, business_tables = tables_of("admin"), tables_of("default")
    assert {"auth_user", "django_session", "django_admin_log", "django_content_type"} <= admin_tables
    assert {"accounts_miniprogram", "boards_message"} <= business_tables
    assert not {"auth_user", "django_session"} & business_tables
    assert not {"accounts_miniprogram", "boards_message"} & admin_tables
    assert connections["admin"].settings_dict["NAME"] != connections["default"].settings_dict["NAME"]


@pytest.mark.django_db(databases="__all__")
def test_admin_login_works_with_its_tables_on_admin_and_business_data_on_default(client):
    User.objects.create_superuser("boss", "boss@example.com", "correct horse battery staple")
    app_secret = "s3cr3t-value"  # pragma: allowlist secret
    MiniProgram.objects.create(appid="wxadminlisted", name="Listed in admin", secret=app_secret)

    login = client.post(
        "/admin/login/?next=/admin/",
        {"username": "boss", "password": "correct horse battery staple", "next": "/admin/"},  # pragma: allowlist secret
    )
    assert login.status_code == 302 and login["Location"] == "/admin/"

    index = client.get("/admin/")
    assert index.status_code == 200
    assert b"Log out" in index.content or "注销".encode() in index.content
    # The session was written to the admin database.
    with connections["admin"].cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_session")
        assert cursor.fetchone()[0] == 1
    # And a business model registered in the admin reads from default.
    listing = client.get("/admin/accounts/miniprogram/")
    assert listing.status_code == 200
    assert b"Listed in admin" in listing.content


@pytest.mark.django_db(databases="__all__")
def test_admin_refuses_a_wrong_password(client):
    User.objects.create_superuser("boss", "boss@example.com", "correct horse battery staple")
    response = client.post("/admin/login/?next=/admin/", {"username": "boss", "password": "wrong"})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
