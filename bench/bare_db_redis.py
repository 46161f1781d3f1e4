"""The db_redis ceiling: a bare WSGI callable doing what `/api/probe/db-redis/<id>` does, with no Django.

Served by the same Gunicorn+gevent config and worker count as the service (bench/servers.py, kind
`bare_db_redis`). The gevent worker patches sockets before it imports this module, so PyMySQL and redis-py
yield while they wait. Same SQL as the view's queryset (the ORM's text, with a placeholder), same Redis key
(django-redis's `<CACHE_KEY_PREFIX>:1:<key>`, an int stored as its digits), same JSON answer. MySQL connections
are bounded per worker as the service bounds them: at most DB_POOL_SIZE, kept open and reused.
"""

import os
import pickle
import re

import orjson
import pymysql
import redis
from gevent.queue import LifoQueue

PROBE_KEY = "probe:mini-program:{}"  # as in apps/probes/views.py, which this must not import (it needs Django)

SQL = (
    "SELECT `accounts_miniprogram`.`id` AS `id`, `accounts_miniprogram`.`appid` AS `appid`, "
    "`accounts_miniprogram`.`name` AS `name`, `accounts_miniprogram`.`is_active` AS `is_active` "
    "FROM `accounts_miniprogram` WHERE `accounts_miniprogram`.`id` = %s LIMIT 1"
)
CACHE_KEY = os.environ.get("CACHE_KEY_PREFIX", "mp") + ":1:" + PROBE_KEY
PATH = re.compile(r"^/api/probe/db-redis/(\d+)$")
POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "8"))
POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "3"))
JSON = [("Content-Type", "application/json")]

_redis = redis.Redis(
    connection_pool=redis.BlockingConnectionPool.from_url(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        max_connections=int(os.environ.get("REDIS_POOL_SIZE", "50")),
        timeout=2.0,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
    )
)
# Connections are made lazily, up to POOL_SIZE; each one waits in the queue while it is idle.
_idle: LifoQueue = LifoQueue()
_made = 0


def _connect() -> pymysql.Connection:
    return pymysql.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "3306")),
        user=os.environ.get("DB_USER", "root"),
        password=os.environ.get("DB_PASSWORD", ""),
        database=os.environ.get("DB_NAME", "miniprogram"),
        charset="utf8mb4",
        ssl_disabled=bool(os.environ.get("DB_SSL_DISABLED")),
        autocommit=True,
    )


def _row(pk: int) -> tuple | None:
    global _made
    if _idle.empty() and _made < POOL_SIZE:
        _made += 1
        try:
            conn = _connect()
        except Exception:
            _made -= 1
            raise
    else:
        conn = _idle.get(timeout=POOL_TIMEOUT)
    try:
        with conn.cursor() as cur:
            cur.execute(SQL, (pk,))
            row = cur.fetchone()
    except Exception:
        _made -= 1
        conn.close()
        raise
    _idle.put(conn)
    return row


def _hits(pk: int):
    value = _redis.get(CACHE_KEY.format(pk))
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return pickle.loads(value)  # noqa: S301 - our own cache, written by django-redis


def _answer(start_response, status: str, payload: dict) -> list[bytes]:
    body = orjson.dumps(payload)
    start_response(status, [*JSON, ("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    match = PATH.match(environ.get("PATH_INFO", ""))
    if match is None:  # the server's health check and anything else
        return _answer(start_response, "200 OK", {"status": "ok"})
    pk = int(match.group(1))
    row = _row(pk)
    if row is None:
        error = {"code": "not_found", "message": f"No mini-program {pk}.", "field": "pk"}
        return _answer(start_response, "404 Not Found", {"error": error})
    return _answer(
        start_response,
        "200 OK",
        {"id": row[0], "appid": row[1], "name": row[2], "is_active": bool(row[3]), "hits": _hits(pk)},
    )
