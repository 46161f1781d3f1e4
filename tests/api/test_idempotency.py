"""Idempotency-Key: a retried write gets the first answer again and is stored once."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from apps.boards.models import Like, Message
from corelib import dbpool
from corelib.models import IdempotencyRecord
from tests.api.conftest import APP_A, error_of, log_in, post

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

SENDS = 20


@pytest.fixture
def roomy_pool(settings):
    # Twenty threads in one process: this test is about duplicates, not about waiting for a slot.
    settings.DB_POOL_SIZE = SENDS + 2
    dbpool.reset_pools()
    yield
    dbpool.reset_pools()


def _post_with_key(person, board_id: int, content: str, key: str):
    return person.api.post(
        f"/api/v1/boards/{board_id}/messages", {"content": content}, headers={"Idempotency-Key": key}
    )


def test_the_same_post_sent_20_times_in_a_row_is_stored_once_with_identical_answers(alice, board):
    key = str(uuid.uuid4())

    answers = [_post_with_key(alice, board["id"], "once", key) for _ in range(SENDS)]

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1
    assert "Idempotent-Replayed" not in answers[0] and all(a["Idempotent-Replayed"] == "true" for a in answers[1:])
    assert Message.objects.filter(board_id=board["id"], content="once").count() == 1


def test_the_same_post_sent_20_times_at_once_is_stored_once_with_identical_answers(roomy_pool, alice, board):
    key = str(uuid.uuid4())

    def send(_):
        try:
            return _post_with_key(alice, board["id"], "at once", key)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(SENDS) as pool:
        answers = list(pool.map(send, range(SENDS)))

    assert {answer.status_code for answer in answers} == {201}, [a.content for a in answers]
    assert len({answer.content for answer in answers}) == 1
    assert Message.objects.filter(board_id=board["id"], content="at once").count() == 1


def test_different_keys_store_different_messages(alice, board):
    first = _post_with_key(alice, board["id"], "same text", str(uuid.uuid4()))
    second = _post_with_key(alice, board["id"], "same text", str(uuid.uuid4()))

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert Message.objects.filter(board_id=board["id"], content="same text").count() == 2


def test_two_users_may_use_the_same_key(alice, bob, board):
    key = "shared-key-1"

    mine = _post_with_key(alice, board["id"], "alice's", key)
    theirs = _post_with_key(bob, board["id"], "bob's", key)

    assert mine.status_code == theirs.status_code == 201
    assert (mine.json()["content"], theirs.json()["content"]) == ("alice's", "bob's")


def test_a_key_reused_for_another_body_answers_422_and_writes_nothing(alice, board):
    key = str(uuid.uuid4())
    assert _post_with_key(alice, board["id"], "first", key).status_code == 201

    reused = _post_with_key(alice, board["id"], "second", key)

    assert reused.status_code == 422
    assert error_of(reused) == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was used for a different request (method, path or body).",
        "field": "Idempotency-Key",
    }
    assert not Message.objects.filter(content="second").exists()


def test_a_repeated_like_and_delete_replay_their_first_answers(alice, bob, board):
    message = post(alice, board["id"], "like me")
    url = f"/api/v1/messages/{message['id']}/like"
    like_key, delete_key = str(uuid.uuid4()), str(uuid.uuid4())

    first_like = bob.api.put(url, headers={"Idempotency-Key": like_key})
    alice.api.put(url)
    again = bob.api.put(url, headers={"Idempotency-Key": like_key})
    gone = alice.api.delete(f"/api/v1/messages/{message['id']}", headers={"Idempotency-Key": delete_key})
    gone_again = alice.api.delete(f"/api/v1/messages/{message['id']}", headers={"Idempotency-Key": delete_key})

    assert again.json() == first_like.json() == {"message_id": message["id"], "liked": True, "like_count": 1}
    assert Like.objects.filter(message_id=message["id"]).count() == 2
    assert gone.status_code == gone_again.status_code == 204  # without the key the second would be a 404


def test_a_key_still_in_progress_answers_409_after_the_wait(alice, board, monkeypatch):
    from corelib import idempotency

    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    key = "in-flight"
    response = _post_with_key(alice, board["id"], "first", key)
    IdempotencyRecord.objects.update(status=None)  # as if the first request were still running

    waiting = _post_with_key(alice, board["id"], "first", key)

    assert waiting.status_code == 409
    assert error_of(waiting)["code"] == "idempotency_in_progress"
    assert waiting["Retry-After"] == "1"
    assert Message.objects.filter(content="first").count() == 1 and response.status_code == 201


def test_a_4xx_answer_is_replayed(alice, board):
    key = str(uuid.uuid4())

    first = alice.api.post("/api/v1/boards/987654/messages", {"content": "x"}, headers={"Idempotency-Key": key})
    again = alice.api.post("/api/v1/boards/987654/messages", {"content": "x"}, headers={"Idempotency-Key": key})

    assert first.status_code == again.status_code == 404
    assert again["Idempotent-Replayed"] == "true"


def test_a_5xx_answer_is_forgotten_so_the_retry_runs(alice, board, monkeypatch):
    from apps.boards import services
    from corelib.dbretry import DatabaseConflictError

    key = str(uuid.uuid4())
    real_post = services.post_message

    def busy(*args, **kwargs):
        raise DatabaseConflictError(5)

    monkeypatch.setattr(services, "post_message", busy)
    assert _post_with_key(alice, board["id"], "retried", key).status_code == 503
    monkeypatch.setattr(services, "post_message", real_post)

    retried = _post_with_key(alice, board["id"], "retried", key)

    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    assert Message.objects.filter(content="retried").count() == 1


def test_an_invalid_key_answers_400(alice, board):
    response = _post_with_key(alice, board["id"], "x", "x" * 201)

    assert response.status_code == 400
    assert error_of(response)["field"] == "Idempotency-Key"


def test_a_login_retried_with_its_key_returns_the_same_token(standin, mini_programs):
    from tests.api.conftest import Api

    code = standin.mint(APP_A[0])["code"]
    body = {"appid": APP_A[0], "code": code}

    first = Api().post("/api/v1/auth/login", body, headers={"Idempotency-Key": "login-1"})
    retried = Api().post("/api/v1/auth/login", body, headers={"Idempotency-Key": "login-1"})

    assert first.status_code == retried.status_code == 200
    assert first.json()["token"] == retried.json()["token"]  # the code is single-use: without the key, a 401
    assert log_in(standin, APP_A[0]).api.get("/api/v1/me").status_code == 200


def test_the_openapi_document_describes_the_header_on_every_write(client):
    document = client.get("/api/v1/openapi.json").json()

    writes = [
        operation
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method in {"post", "put", "patch", "delete"}
    ]
    assert len(writes) >= 8
    for operation in writes:
        assert "Idempotency-Key" in [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "409" in operation["responses"]


def test_writes_without_a_token_answer_401_whatever_their_key(board):
    from tests.api.conftest import Api

    answers = [
        Api().post(
            f"/api/v1/boards/{board['id']}/messages", {"content": content}, headers={"Idempotency-Key": "shared-key"}
        )
        for content in ("first", "second")
    ]

    assert [answer.status_code for answer in answers] == [401, 401]
    assert not IdempotencyRecord.objects.exists()


def test_a_method_the_route_does_not_serve_answers_405_even_with_a_key(alice, board):
    response = alice.api.put(f"/api/v1/boards/{board['id']}/messages", {}, headers={"Idempotency-Key": "k-405"})

    assert response.status_code == 405
    assert not IdempotencyRecord.objects.exists()


def test_every_write_of_the_document_is_wrapped_by_its_url_pattern():
    from django.urls import URLPattern

    from project.api import api, document_route, write_methods

    routes = {document_route(pattern) for pattern in api.urls[0] if isinstance(pattern, URLPattern)}
    assert {path for path, methods in write_methods().items() if methods} <= routes
