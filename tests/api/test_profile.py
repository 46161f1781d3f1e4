"""GET and PATCH /api/v1/me."""

import pytest

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_shows_my_profile(alice):
    body = alice.api.get("/api/v1/me").json()

    assert body["id"] == alice.user_id
    assert body["openid"] == alice.openid
    assert body["appid"] == alice.appid
    assert "session_key" not in body


def test_it_updates_nickname_and_avatar(alice):
    response = alice.api.patch(
        "/api/v1/me", {"nickname": "  小明 🐼 ", "avatar_url": "https://thirdwx.qlogo.cn/mmopen/abc/132"}
    )

    assert response.status_code == 200
    body = alice.api.get("/api/v1/me").json()
    assert body["nickname"] == "小明 🐼"
    assert body["avatar_url"] == "https://thirdwx.qlogo.cn/mmopen/abc/132"


def test_it_updates_only_what_is_sent(alice):
    alice.api.patch("/api/v1/me", {"nickname": "first"})
    alice.api.patch("/api/v1/me", {"avatar_url": "https://example.com/a.png"})

    assert alice.api.get("/api/v1/me").json()["nickname"] == "first"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "x" * 65}, "nickname"),
        ({"nickname": 42}, "nickname"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
        ({"avatar_url": "not a url"}, "avatar_url"),
        ({"avatar_url": "https://example.com/" + "a" * 500}, "avatar_url"),
        ({}, "nickname"),
    ],
)
def test_it_names_the_bad_field(alice, body, field):
    response = alice.api.patch("/api/v1/me", body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


@pytest.mark.parametrize("url", ["https://example.com/a.png*", "https://example.com/a b", "HTTPS://EXAMPLE.COM/"])
def test_an_avatar_url_outside_the_documented_shape_is_refused_and_not_stored(alice, url):
    response = alice.api.patch("/api/v1/me", {"avatar_url": url})

    assert response.status_code == 422
    assert error_of(response)["field"] == "avatar_url"
    assert alice.api.get("/api/v1/me").json()["avatar_url"] == ""
