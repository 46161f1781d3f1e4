"""Give each test run its own databases and its own Redis database.

Loaded with `-p tests.isolation`; it sets the environment (settings module,
database names, Redis, a random SECRET_KEY) when imported, which
is before pytest-django reads the settings. A run never touches data it did not create: MySQL databases get a
per-run name (pytest-django creates and drops `test_<name>`), and the run
claims an empty Redis database index on the shared server, flushes only that
one at the end, and releases its claim. Subprocesses the tests start (workers,
Gunicorn, Supervisor) inherit these variables.
"""

import os
import secrets
import tempfile
import uuid

import redis

RUN_ID = uuid.uuid4().hex[:8]
REDIS_BASE = os.environ.get("TEST_REDIS_BASE", "redis://127.0.0.1:6379")
CLAIM_TTL = 3 * 3600

_claimed: dict = {}


def _claim_redis_db() -> int:
    lock_client = redis.Redis.from_url(f"{REDIS_BASE}/0")
    for index in range(1, 16):
        key = f"miniprogram-tests:claim:{index}"
        if not lock_client.set(key, RUN_ID, nx=True, ex=CLAIM_TTL):
            continue
        if redis.Redis.from_url(f"{REDIS_BASE}/{index}").dbsize() == 0:
            _claimed.update(index=index, key=key)
            return index
        lock_client.delete(key)  # holds someone else's data: leave it alone
    raise RuntimeError("No empty Redis database index (1-15) is free on the test Redis server.")


def _prepare_environment() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_pytest")
    # A fresh signing key per run: settings_test (started by some tests) requires a strong one.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["DB_NAME"] = f"mp_{RUN_ID}"
    os.environ["ADMIN_DB_NAME"] = f"mp_{RUN_ID}_admin"
    os.environ["DB_SSL_DISABLED"] = "1"
    os.environ["REDIS_URL"] = f"{REDIS_BASE}/{_claim_redis_db()}"
    os.environ.pop("RQ_REDIS_URL", None)
    os.environ["CACHE_KEY_PREFIX"] = f"t{RUN_ID}"
    os.environ["LOG_DIR"] = tempfile.mkdtemp(prefix=f"mp-test-logs-{RUN_ID}-")
    os.environ.pop("SENTRY_DSN", None)


# At import (from `-p`), before pytest-django reads the settings in its own early hook.
_prepare_environment()


def pytest_unconfigure(config):
    if not _claimed:
        return
    redis.Redis.from_url(f"{REDIS_BASE}/{_claimed['index']}").flushdb()
    lock_client = redis.Redis.from_url(f"{REDIS_BASE}/0")
    if lock_client.get(_claimed["key"]) == RUN_ID.encode():
        lock_client.delete(_claimed["key"])
    _claimed.clear()
