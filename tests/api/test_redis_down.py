"""With Redis stopped, reads come from MySQL and writes still succeed.

The test runs its own redis-server on a free port, points the cache at it,
and stops and restarts it; the shared Redis is never touched.
"""

import pytest

from corelib import cache as safe_cache
from tests.api.conftest import APP_A, log_in, post
from tests.servers import PrivateRedis

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def private_redis(settings, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    caches = {key: dict(value) for key, value in settings.CACHES.items()}
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = caches  # Django resets its cache handlers on this change
    try:
        yield server
    finally:
        server.stop()


def test_reads_and_writes_work_with_redis_stopped(private_redis, standin, mini_programs):
    alice = log_in(standin, APP_A[0])
    board = alice.api.post("/api/v1/boards", {"title": "resilient"}).json()
    before = post(alice, board["id"], "before the outage")
    assert alice.api.get(f"/api/v1/boards/{board['id']}/messages").status_code == 200  # cached

    private_redis.stop()

    assert alice.api.get("/api/v1/me").status_code == 200  # token checked in MySQL
    during = alice.api.post(f"/api/v1/boards/{board['id']}/messages", {"content": "during 🔌"})
    assert during.status_code == 201
    assert alice.api.put(f"/api/v1/messages/{before['id']}/like").status_code == 200
    page = alice.api.get(f"/api/v1/boards/{board['id']}/messages")
    assert page.status_code == 200
    assert [(m["content"], m["like_count"]) for m in page.json()["items"]] == [
        ("during 🔌", 0),
        ("before the outage", 1),
    ]
    assert alice.api.get(f"/api/v1/boards/{board['id']}").status_code == 200
    assert alice.api.post("/api/v1/auth/logout").status_code == 204  # revocation lands in MySQL

    private_redis.start()
    safe_cache.reset_backoff()

    assert alice.api.get("/api/v1/me").status_code == 401
    bob = log_in(standin, APP_A[0])  # login counts against its rate limits in Redis again
    after = post(bob, board["id"], "after")
    assert [m["id"] for m in bob.api.get(f"/api/v1/boards/{board['id']}/messages").json()["items"]][:2] == [
        after["id"],
        during.json()["id"],
    ]


def test_login_works_with_redis_stopped(private_redis, standin, mini_programs):
    private_redis.stop()

    alice = log_in(standin, APP_A[0])

    assert alice.api.get("/api/v1/me").status_code == 200
