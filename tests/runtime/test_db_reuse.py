"""Pooled MySQL connections are reused when clean, and never handed out broken or dirty."""

import pytest
from django.db import connections

from corelib import dbpool
from corelib.db.mysql.base import connection_key

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def pool(settings):
    settings.DB_POOL_SIZE = 2
    settings.DB_POOL_TIMEOUT = 0.3
    dbpool.reset_pools()
    yield dbpool.pool_for("default")
    dbpool.reset_pools()


def connection_id(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def a_request(statements=()):
    """What one request does: its own wrapper (as a new greenlet gets), queries, then close."""
    wrapper = connections.create_connection("default")
    identity = connection_id(wrapper)
    with wrapper.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    wrapper.close()
    return identity


def test_the_next_request_reuses_a_connection_given_back(pool):
    first = a_request()
    assert pool.idle == 1 and pool.in_use == 0
    assert a_request() == first


def test_a_reused_connection_keeps_utf8mb4_and_strict_mode(pool):
    a_request()
    wrapper = connections.create_connection("default")
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT @@character_set_connection, @@SESSION.sql_mode, @@SESSION.tx_isolation")
        charset, mode, isolation = cursor.fetchone()
    wrapper.close()
    assert charset == "utf8mb4" and "STRICT_TRANS_TABLES" in mode and isolation == "READ-COMMITTED"


def test_a_connection_closed_inside_a_transaction_is_not_reused(pool):
    wrapper = connections.create_connection("default")
    first = connection_id(wrapper)
    wrapper.set_autocommit(False)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")
    wrapper.close()
    assert pool.idle == 0
    assert a_request() != first


def test_a_connection_that_raised_a_database_error_is_not_reused(pool):
    wrapper = connections.create_connection("default")
    first = connection_id(wrapper)
    with pytest.raises(Exception, match="doesn't exist"), wrapper.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    wrapper.close()
    assert pool.idle == 0
    assert a_request() != first


def test_a_connection_killed_while_idle_is_replaced(pool, monkeypatch):
    monkeypatch.setattr(dbpool, "PING_AFTER_SECONDS", 0.0)
    first = a_request()
    killer = connections.create_connection("admin")
    with killer.cursor() as cursor:
        cursor.execute(f"KILL CONNECTION {first}")
    killer.close()

    second = a_request()  # would fail with "MySQL server has gone away" if handed the dead one
    assert second != first


def test_a_connection_to_another_database_is_not_reused(pool, settings):
    first = a_request()
    other = dict(connections["default"].settings_dict)
    other["NAME"] = connections["admin"].settings_dict["NAME"]
    wrapper = connections["default"].__class__(other, alias="default")
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT DATABASE(), CONNECTION_ID()")
        database, identity = cursor.fetchone()
    wrapper.close()
    assert database == other["NAME"] and identity != first


def test_idle_and_busy_connections_together_stay_within_the_pool_size(pool):
    wrappers = [connections.create_connection("default") for _ in range(2)]
    for wrapper in wrappers:
        connection_id(wrapper)
    for wrapper in wrappers:
        wrapper.close()
    assert pool.idle == 2 and pool.in_use == 0

    other = dict(connections["default"].settings_dict)
    other["NAME"] = connections["admin"].settings_dict["NAME"]
    wrapper = connections["default"].__class__(other, alias="default")
    connection_id(wrapper)  # a new connection: one idle one is closed to make room
    assert pool.in_use + pool.idle <= 2
    wrapper.close()


def test_connections_are_told_apart_by_the_contents_of_their_options_not_their_identity():
    table = {1: "typecast"}
    params = {"host": "127.0.0.1", "port": 3306, "conv": table}

    assert connection_key(params) == connection_key({**params})
    assert connection_key(params) == connection_key({**params, "conv": {1: "typecast"}})
    assert connection_key(params) != connection_key({**params, "conv": {1: "other"}})
    assert connection_key(params) != connection_key({**params, "port": 3307})
