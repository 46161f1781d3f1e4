"""At most DB_POOL_SIZE MySQL connections per process and alias, greenlet-aware, reused.

Under Gunicorn's gevent worker every greenlet (one per client, up to
`worker_connections`) gets its own Django connection, so a burst of clients
would open thousands of MySQL connections and hit `max_connections` ("Too many
connections" for everyone: measured with wrk at 500 clients before this pool
existed). The backend `corelib.db.mysql` takes a slot here before it connects
and gives it back when the connection closes (CONN_MAX_AGE=0: at the end of
each request). A request that cannot get a slot within DB_POOL_TIMEOUT seconds
fails fast with DatabaseBusyError, which `DatabaseBusyMiddleware` answers with
a 503 JSON error.

A clean connection given back is kept idle for the next request instead of
being closed: a new MySQL connection costs a TCP and auth handshake plus three
set-up statements (measured: 4 round trips before the request's own query).
Idle and in-use connections together never exceed the pool size.

Always active: in a gevent worker waiting yields to the other greenlets;
elsewhere (manage.py, RQ workers, the test runner) a single-threaded process
never waits. One code path, and threads in a management command are bounded too.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from corelib import metrics
from corelib.errors import ServiceUnavailableError, json_error

_pools: dict[str, SlotPool] = {}
_pools_lock = threading.Lock()


class DatabaseBusyError(ServiceUnavailableError):
    """No database connection slot became free within DB_POOL_TIMEOUT.

    An ApiError, so the API's handlers answer it like any other error; plain
    Django views get the same answer from DatabaseBusyMiddleware.
    """

    code = "database_busy"

    def __init__(self, alias: str, size: int, timeout: float):
        message = (
            f"The service is busy: all {size} database connections of this worker stayed in use "
            f"for {timeout:g}s. Retry shortly."
        )
        super().__init__(message, headers={"Retry-After": "1"})
        self.alias = alias


class FairSemaphore:
    """A counting semaphore that serves waiters first come, first served.

    A plain semaphore lets a newcomer take a slot that was just released while
    older waiters sleep on; at 1000 clients per machine some requests then
    starve past DB_POOL_TIMEOUT. Here a released slot is handed to the oldest
    waiter. Built on `threading`, which gevent's monkey-patching makes
    cooperative: in a gevent worker waiting yields to the other greenlets.
    """

    def __init__(self, size: int):
        self._free = size
        self._waiters: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        try:
            if turn.wait(timeout):
                return True
        except BaseException:  # the waiting greenlet was killed: pass on a slot it was handed
            with self._lock:
                if not turn.is_set():
                    self._waiters.remove(turn)
            if turn.is_set():
                self.release()
            raise
        with self._lock:
            if turn.is_set():  # handed a slot just as the wait timed out
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()  # the slot passes straight to the oldest waiter
            else:
                self._free += 1


# An idle connection older than this is closed rather than reused (server and
# proxy idle timeouts); one idle longer than PING_AFTER is pinged before reuse.
IDLE_MAX_SECONDS = 60.0
PING_AFTER_SECONDS = 1.0


class SlotPool:
    """At most `size` connections at a time, counting the slots in use, and the idle ones kept for reuse."""

    def __init__(self, alias: str, size: int, timeout: float):
        self.alias = alias
        self.size = size
        self.timeout = timeout
        self.in_use = 0
        self._semaphore = FairSemaphore(size)
        # (key, raw connection, when it was given back), most recent last
        self._idle: deque[tuple[Hashable, Any, float]] = deque()
        self._idle_lock = threading.Lock()
        metrics.db_slots(alias, 0, size)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def take_idle(self, key: Hashable) -> Any | None:
        """A live idle connection opened with `key`, or None. Call while holding a slot.

        Makes room for a new connection if none fits: idle ones of other keys
        (other databases, in tests) are closed so the total stays within `size`.
        """
        now = time.monotonic()
        with self._idle_lock:  # gthread peers and threaded commands share the deque; gevent does not need it
            found = next((entry for entry in reversed(self._idle) if entry[0] == key), None)
            if found is not None:
                self._idle.remove(found)
        if found is not None:
            _, raw, since = found
            if now - since <= IDLE_MAX_SECONDS and (now - since <= PING_AFTER_SECONDS or _answers(raw)):
                return raw
            _close_quietly(raw)
        with self._idle_lock:
            surplus = []
            while self._idle and self.in_use + len(self._idle) > self.size:
                surplus.append(self._idle.popleft()[1])
        for raw in surplus:
            _close_quietly(raw)
        return None

    def give_back(self, key: Hashable, raw: Any) -> None:
        """Keep a clean connection for reuse. Call before releasing its slot."""
        with self._idle_lock:
            self._idle.append((key, raw, time.monotonic()))

    def forget_idle(self) -> None:
        """Drop idle connections without closing them (a forked child shares their sockets)."""
        self._idle_lock = threading.Lock()  # another thread may have held it at the fork
        self._idle.clear()

    def acquire(self, owner: object) -> weakref.finalize:
        """Take a slot for `owner`; the returned finalizer gives it back (once).

        If the owner is garbage-collected without closing (a greenlet that died
        holding a connection), the finalizer still returns the slot.
        """
        if not self._semaphore.acquire(timeout=self.timeout):
            raise DatabaseBusyError(self.alias, self.size, self.timeout)
        self.in_use += 1
        metrics.db_slots(self.alias, self.in_use, self.size)
        return weakref.finalize(owner, self._release)

    def _release(self) -> None:
        self.in_use -= 1
        metrics.db_slots(self.alias, self.in_use, self.size)
        self._semaphore.release()


def release_connections() -> None:
    """Give this request's database connections back to the pool before waiting on something slow.

    A slot is held from a request's first query to its end (CONN_MAX_AGE=0).
    Held across a call to WeChat, which takes seconds when WeChat is slow, a few
    logins per worker held every slot and the worker's other requests answered
    503 database_busy. The next query takes a connection again (an idle one, at
    no cost). A connection inside a transaction stays.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.in_atomic_block:
            connection.close()


def pool_for(alias: str) -> SlotPool:
    """This process's pool for a database alias, created on first use."""
    pool = _pools.get(alias)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(alias)
            if pool is None:
                pool = SlotPool(alias, int(settings.DB_POOL_SIZE), float(settings.DB_POOL_TIMEOUT))
                _pools[alias] = pool
    return pool


def open_pools() -> None:
    """Create the pool of every pooled database now, so a worker reports its slots before its first query."""
    for alias, database in settings.DATABASES.items():
        if database["ENGINE"] == "corelib.db.mysql":
            pool_for(alias)


def reset_pools() -> None:
    """Forget the pools (after a settings change in tests); slots held stay valid."""
    with _pools_lock:
        for pool in _pools.values():
            while pool._idle:
                _close_quietly(pool._idle.popleft()[1])
        _pools.clear()


def _forget_idle_after_fork() -> None:
    # An RQ work horse is a fork: the parent's idle sockets must not be used by both.
    for pool in list(_pools.values()):
        pool.forget_idle()


os.register_at_fork(after_in_child=_forget_idle_after_fork)


def _answers(raw: Any) -> bool:
    try:
        raw.ping(reconnect=False)
        return True
    except Exception:
        return False


def _close_quietly(raw: Any) -> None:
    try:
        raw.close()
    except Exception:  # noqa: S110 - already broken; it is being discarded
        pass


class DatabaseBusyMiddleware:
    """Answers DatabaseBusyError from a view with 503 and Retry-After, in the API's error shape."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DatabaseBusyError):
            return None
        return busy_response(exception)


def busy_response(error: DatabaseBusyError) -> HttpResponse:
    return json_error(error.status, error.code, error.message, headers=error.headers)
