"""Bounded database connections (corelib.dbpool): a slot per connection, 503 when none frees up."""

import gc
import subprocess
import sys
import threading
import time

import pymysql
import pytest
import requests
from django.db import connections

from corelib import dbpool
from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_http, wait_until

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def pool_of_one(settings):
    settings.DB_POOL_SIZE = 1
    settings.DB_POOL_TIMEOUT = 0.3
    dbpool.reset_pools()
    yield
    dbpool.reset_pools()


def test_a_second_connection_waits_for_the_slot_then_fails_fast(pool_of_one):
    first = connections.create_connection("default")
    second = connections.create_connection("default")
    first.ensure_connection()
    started = time.monotonic()
    with pytest.raises(dbpool.DatabaseBusyError, match="all 1 database connections"):
        second.ensure_connection()
    assert time.monotonic() - started < 5
    first.close()
    second.ensure_connection()
    assert dbpool.pool_for("default").in_use == 1
    second.close()
    assert dbpool.pool_for("default").in_use == 0


def test_a_connection_dropped_without_close_gives_its_slot_back(pool_of_one):
    lost = connections.create_connection("default")
    lost.ensure_connection()
    del lost
    gc.collect()
    other = connections.create_connection("default")
    other.ensure_connection()
    other.close()


def waiting_on_a_lock(database: str) -> bool:
    connection = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                " WHERE DB = %s AND STATE LIKE 'Waiting for table%%'",
                (database,),
            )
            return cursor.fetchone()[0] > 0
    finally:
        connection.close()


@pytest.mark.slow
def test_a_request_that_cannot_get_a_connection_answers_503_not_a_hang(tmp_path):
    port = free_port()
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE="project.settings_test",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=1,
        DB_POOL_SIZE=1,
        DB_POOL_TIMEOUT=1,
        PROBES_ENABLED=1,  # /api/health/db is the one-query endpoint held here
    )
    gunicorn = subprocess.Popen(
        [
            str(PROJECT_ROOT / ".venv/bin/gunicorn"),
            "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--pid", str(tmp_path / "gunicorn.pid"),
            "--control-socket", str(tmp_path / "gunicorn.ctl"),
            "--error-logfile", str(tmp_path / "error.log"),
            "--access-logfile", str(tmp_path / "access.log"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )  # fmt: skip
    locker = pymysql.connect(host="127.0.0.1", user="root", database=env["DB_NAME"], autocommit=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health/db", timeout=30)
        # Hold the worker's only connection: its query (/api/health/db reads the outbox table) waits on a lock.
        locker.cursor().execute("LOCK TABLES corelib_outboxjob WRITE")
        held = {}
        holder = threading.Thread(
            target=lambda: held.update(response=requests.get(f"http://127.0.0.1:{port}/api/health/db", timeout=30))
        )
        holder.start()
        wait_until(lambda: waiting_on_a_lock(env["DB_NAME"]), 30, "the first request to wait on the table lock")
        started = time.monotonic()
        busy = requests.get(f"http://127.0.0.1:{port}/api/health/db", timeout=30)
        waited = time.monotonic() - started
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "database_busy"
        assert busy.headers["Retry-After"] == "1"
        assert waited < 10
        # The same answer from an API route (its token lookup needs a connection too).
        api = requests.get(
            f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": "Bearer no-such-token"}, timeout=30
        )
        assert api.status_code == 503
        assert api.json()["error"]["code"] == "database_busy"
        locker.cursor().execute("UNLOCK TABLES")
        holder.join(timeout=30)
        assert held["response"].status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/api/health/db", timeout=10).status_code == 200
    finally:
        locker.close()
        stop_process(gunicorn)


def test_a_released_slot_goes_to_the_oldest_waiter_not_a_newcomer():
    semaphore = dbpool.FairSemaphore(1)
    assert semaphore.acquire(timeout=1)
    order = []

    def wait_turn(name):
        assert semaphore.acquire(timeout=10)
        order.append(name)
        semaphore.release()

    waiters = [threading.Thread(target=wait_turn, args=(name,)) for name in ("first", "second")]
    for queued, waiter in enumerate(waiters, start=1):
        waiter.start()
        wait_until(lambda queued=queued: len(semaphore._waiters) == queued, 10, "the waiter to queue")
    semaphore.release()
    for waiter in waiters:
        waiter.join(timeout=10)
    assert order == ["first", "second"]


def test_threads_sharing_a_pool_never_trip_over_its_idle_list():
    # Threads (gthread, threaded management commands) give back and take idle connections at once.
    pool = dbpool.SlotPool("threads", size=10_000, timeout=1)
    for key in range(2_000):  # a long idle list: every search walks it while others change it
        pool.give_back(("other", key), object())
    failures = []

    def churn(me: int) -> None:
        try:
            for n in range(300):
                pool.give_back((me, n), object())
                assert pool.take_idle(("never given back", me)) is None  # walks the whole list
                pool.take_idle((me, n))
        except Exception as error:  # noqa: BLE001 - any error is the failure this test is about
            failures.append(error)

    threads = [threading.Thread(target=churn, args=(me,)) for me in range(8)]
    switch_every = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often, as under load
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_every)

    assert failures == []
    assert pool.idle == 2_000
