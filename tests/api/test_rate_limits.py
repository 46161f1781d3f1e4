"""Rate limits (shared in Redis) answer 429 with Retry-After; the client IP is not spoofable."""

import pytest
from django.core.cache import cache

from tests.api.conftest import APP_A, APP_B, GENEROUS, Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def login_from(standin, appid: str, remote_addr: str, forwarded_for: str | None = None):
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    client = Api(REMOTE_ADDR=remote_addr)
    return client.post("/api/v1/auth/login", {"appid": appid, "code": standin.mint(appid)["code"]}, headers=headers)


def test_login_is_limited_per_ip(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_ip": (3, 60)}

    answers = [login_from(standin, APP_A[0], "198.51.100.7").status_code for _ in range(4)]
    other_ip = login_from(standin, APP_A[0], "198.51.100.8")

    assert answers == [200, 200, 200, 429]
    assert other_ip.status_code == 200


def test_a_429_says_when_to_retry(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_ip": (1, 60)}
    login_from(standin, APP_A[0], "198.51.100.9")

    response = login_from(standin, APP_A[0], "198.51.100.9")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error_of(response)["code"] == "rate_limited"


def test_login_is_limited_per_appid(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_app": (2, 60)}

    answers = [login_from(standin, APP_B[0], f"203.0.113.{n}").status_code for n in range(3)]

    assert answers == [200, 200, 429]
    assert login_from(standin, APP_A[0], "203.0.113.50").status_code == 200


def test_logins_an_address_is_refused_do_not_spend_its_mini_programs_limit(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_ip": (1, 60), "login_app": (3, 60)}

    flood = [login_from(standin, APP_B[0], "198.51.100.30").status_code for _ in range(5)]
    others = [login_from(standin, APP_B[0], f"198.51.100.{n}").status_code for n in (31, 32, 33)]

    assert flood == [200, 429, 429, 429, 429]
    assert others == [200, 200, 429]


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_ip": (2, 60)}
    settings.TRUSTED_PROXIES = ["127.0.0.1"]

    # A direct client rotating fake X-Forwarded-For values is still one IP.
    answers = [login_from(standin, APP_A[0], "192.0.2.10", forwarded_for=f"10.0.0.{n}").status_code for n in range(3)]

    assert answers == [200, 200, 429]


def test_the_forwarded_for_of_a_trusted_proxy_is_honoured(standin, mini_programs, settings):
    settings.RATE_LIMITS = {**GENEROUS, "login_ip": (1, 60)}
    settings.TRUSTED_PROXIES = ["127.0.0.1"]

    # Behind our proxy, two real clients are two IPs, even if one spoofs a hop in front.
    first = login_from(standin, APP_A[0], "127.0.0.1", forwarded_for="192.0.2.20")
    second = login_from(standin, APP_A[0], "127.0.0.1", forwarded_for="192.0.2.20, 192.0.2.21")
    third = login_from(standin, APP_A[0], "127.0.0.1", forwarded_for="192.0.2.99, 192.0.2.20")

    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)


def test_posting_is_limited_per_user(alice, bob, board, settings):
    settings.RATE_LIMITS = {**GENEROUS, "post_user": (2, 60)}
    url = f"/api/v1/boards/{board['id']}/messages"

    answers = [alice.api.post(url, {"content": f"m{n}"}).status_code for n in range(3)]
    message_id = alice.api.get(url).json()["items"][0]["id"]
    reply = alice.api.post(f"/api/v1/messages/{message_id}/replies", {"content": "r"})

    assert answers == [201, 201, 429]
    assert reply.status_code == 429 and int(reply["Retry-After"]) >= 1
    assert bob.api.post(url, {"content": "bob is fine"}).status_code == 201


def write_calls(person, board_id: int, message_id: int) -> dict:
    """Each write endpoint, called once."""
    return {
        "create board": lambda: person.api.post("/api/v1/boards", {"title": "t"}),
        "post": lambda: person.api.post(f"/api/v1/boards/{board_id}/messages", {"content": "m"}),
        "reply": lambda: person.api.post(f"/api/v1/messages/{message_id}/replies", {"content": "r"}),
        "like": lambda: person.api.put(f"/api/v1/messages/{message_id}/like"),
        "unlike": lambda: person.api.delete(f"/api/v1/messages/{message_id}/like"),
        "patch me": lambda: person.api.patch("/api/v1/me", {"nickname": "n"}),
        "logout": lambda: person.api.post("/api/v1/auth/logout"),
    }


@pytest.mark.parametrize("write", ["create board", "post", "reply", "like", "unlike", "patch me", "logout"])
def test_every_write_is_limited_per_user_and_a_refused_one_changes_nothing(write, alice, bob, board, settings):
    from apps.accounts.models import ApiToken, WxUser
    from apps.boards.models import Board, Like, Message

    message_id = bob.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": "bob's"}).json()["id"]
    cache.delete_pattern("rl:*")  # the writes of the set-up above do not count
    settings.RATE_LIMITS = {**GENEROUS, "write_user": (1, 60)}
    call = write_calls(alice, board["id"], message_id)["create board" if write != "create board" else "patch me"]
    assert call().status_code < 300  # alice's one write this minute

    def state():
        return (
            Board.objects.count(),
            Message.objects.count(),
            Like.objects.count(),
            list(WxUser.objects.values_list("nickname", flat=True).order_by("id")),
            ApiToken.objects.filter(revoked_at__isnull=True).count(),
        )

    before = state()
    response = write_calls(alice, board["id"], message_id)[write]()

    assert response.status_code == 429, response.content
    assert error_of(response)["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert state() == before
    assert write_calls(bob, board["id"], message_id)[write]().status_code < 300  # bob has his own budget


def test_writes_are_limited_per_client_address_across_users(alice, bob, board, settings):
    settings.RATE_LIMITS = {**GENEROUS, "write_ip": (2, 60)}
    same_address = {"REMOTE_ADDR": "198.51.100.40"}
    alice_there = Api(alice.api.token, **same_address)
    bob_there = Api(bob.api.token, **same_address)
    bob_elsewhere = Api(bob.api.token, REMOTE_ADDR="198.51.100.41")

    answers = [
        alice_there.post("/api/v1/boards", {"title": "a"}).status_code,
        bob_there.post("/api/v1/boards", {"title": "b"}).status_code,
        bob_there.post("/api/v1/boards", {"title": "c"}).status_code,
    ]

    assert answers == [201, 201, 429]
    assert bob_elsewhere.post("/api/v1/boards", {"title": "d"}).status_code == 201
