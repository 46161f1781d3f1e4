"""A Redis blip (paused, then back with its data) undoes no invalidation and no logout.

The writes that Redis missed while it did not answer are written again as soon
as it answers (corelib.cache_replay): no stale page and no revoked token
outlives the blip by more than a few seconds.
"""

import os
import signal
import time

import pytest

from corelib import cache as safe_cache
from corelib import cache_replay
from tests.api.conftest import APP_A, log_in, post
from tests.servers import PrivateRedis

pytestmark = pytest.mark.django_db(databases="__all__")

# What "a few seconds" means here, generous for a loaded machine.
AFTER_THE_BLIP = 5.0


@pytest.fixture
def pausable_redis(settings, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    caches = {key: dict(value) for key, value in settings.CACHES.items()}
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{server.port}/0"
    settings.CACHES = caches
    try:
        yield server
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


def pause(server) -> None:
    os.kill(server.process.pid, signal.SIGSTOP)  # keeps its data; clients time out


def resume(server) -> None:
    os.kill(server.process.pid, signal.SIGCONT)


def poll(predicate, seconds: float):
    """The first truthy value of predicate() within `seconds`, else None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return None


def test_a_post_during_a_blip_shows_on_the_cached_page_within_seconds_after_it(pausable_redis, standin, mini_programs):
    alice = log_in(standin, APP_A[0])
    board = alice.api.post("/api/v1/boards", {"title": "blip"}).json()
    post(alice, board["id"], "before")
    page_url = f"/api/v1/boards/{board['id']}/messages"
    assert [m["content"] for m in alice.api.get(page_url).json()["items"]] == ["before"]  # now cached

    pause(pausable_redis)
    during = alice.api.post(page_url, {"content": "during the blip"})
    resume(pausable_redis)

    assert during.status_code == 201
    safe_cache.reset_backoff()
    fresh = poll(lambda: "during the blip" in str(alice.api.get(page_url).json()), AFTER_THE_BLIP)
    assert fresh, "the page cached before the blip is still served"
    assert cache_replay.pending() == 0


def test_a_logout_during_a_blip_is_honoured_within_seconds_after_it(pausable_redis, standin, mini_programs):
    alice = log_in(standin, APP_A[0])
    assert alice.api.get("/api/v1/me").status_code == 200  # the token is now cached as valid

    pause(pausable_redis)
    logout = alice.api.post("/api/v1/auth/logout")
    resume(pausable_redis)

    assert logout.status_code == 204
    safe_cache.reset_backoff()
    refused = poll(lambda: alice.api.get("/api/v1/me").status_code == 401, AFTER_THE_BLIP)
    assert refused, "the revoked token is still honoured from the cache"
