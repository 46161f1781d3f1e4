"""Liveness and readiness probes.

`/api/health` proves the process answers and touches nothing else.
`/api/health/db` runs one ORM query through the worker's bounded connection
pool (corelib.dbpool): what the connection-bound load test aims at.
`/api/version` names the code revision this worker runs (read once at start),
which is how a deploy sees that the reload reached every worker.
`/api/ready` checks every database alias and Redis concurrently, each with a
short timeout, so the answer comes within a second even when a server is
unreachable. It names what is down, and why, only to a trusted caller
(corelib.trusted_caller): the reasons carry database users and host names.
Everyone else gets the bare status.
"""

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

import pymysql
import redis
from django.conf import settings
from django.db import connections
from django.http import JsonResponse

from corelib.models import OutboxJob
from corelib.revision import current_revision
from corelib.trusted_caller import is_trusted_caller

CHECK_TIMEOUT = 0.8


def _check_database(alias: str) -> None:
    config = settings.DATABASES[alias]
    if config["ENGINE"].endswith("mysql"):
        # A fresh short-timeout connection: the request's own connection would
        # wait for the full connect_timeout on an unreachable server.
        options = config.get("OPTIONS", {})
        connection = pymysql.connect(
            host=config["HOST"],
            port=int(config["PORT"]),
            user=config["USER"],
            password=config["PASSWORD"],
            database=config["NAME"],
            connect_timeout=CHECK_TIMEOUT,
            read_timeout=CHECK_TIMEOUT,
            ssl_disabled=options.get("ssl_disabled", False),
        )
        try:
            connection.cursor().execute("SELECT 1")
        finally:
            connection.close()
    else:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def component_checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {
        f"database:{alias}": functools.partial(_check_database, alias) for alias in settings.DATABASES
    }
    checks["redis"] = _check_redis
    return checks


def failing_components(deadline: float = 1.0) -> dict[str, str]:
    """Name -> reason for every component that did not answer within the deadline."""
    checks = component_checks()
    failures: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=len(checks))
    futures = {pool.submit(check): name for name, check in checks.items()}
    done, pending = wait(futures, timeout=deadline)
    for future in pending:
        failures[futures[future]] = "no answer within the deadline"
    for future in done:
        error = future.exception()
        if error is not None:
            failures[futures[future]] = f"{type(error).__name__}: {error}"
    pool.shutdown(wait=False, cancel_futures=True)
    return failures


def health(request):
    return JsonResponse({"status": "ok"})


def database(request):
    return JsonResponse({"status": "ok", "outbox_rows": OutboxJob.objects.exists()})


def version(request):
    return JsonResponse({"revision": current_revision(), "environment": settings.ENVIRONMENT})


def ready(request):
    failures = failing_components()
    if not is_trusted_caller(request):
        if failures:
            error = {"code": "not_ready", "message": "Some components do not answer."}
            return JsonResponse({"status": "unavailable", "error": error}, status=503)
        return JsonResponse({"status": "ready"})
    if failures:
        return JsonResponse(
            {
                "status": "unavailable",
                "error": {
                    "code": "not_ready",
                    "message": "Some components do not answer: " + ", ".join(sorted(failures)),
                },
                "down": failures,
            },
            status=503,
        )
    return JsonResponse({"status": "ready", "environment": settings.ENVIRONMENT, "release": settings.RELEASE})
