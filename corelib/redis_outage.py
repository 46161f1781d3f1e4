"""Riding out a Redis outage in a long-running process (RQ workers, the scheduler).

rq quits on most Redis errors outside its dequeue loop, and the scheduler on
all of them; Supervisor then restarts the program, and an outage longer than
its `startretries` leaves it FATAL. Instead these processes wait here: they
ping Redis with a growing pause (up to MAX_PAUSE seconds), log one line when
Redis goes away and one when it is back, and keep answering stop signals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
FIRST_PAUSE = 0.5
MAX_PAUSE = 5.0
SLICE = 0.2  # how often a stop request is noticed while waiting


class RedisOutage:
    """The Redis state of one process: up, or down since a given moment."""

    def __init__(self, connection: Redis, who: str, logger: logging.Logger, should_stop: Callable[[], bool]):
        self.connection = connection
        self.who = who
        self.logger = logger
        self.should_stop = should_stop
        self.down_since: float | None = None

    def noticed(self, error: BaseException) -> None:
        """Record that Redis failed; logs only on the change from up to down."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.logger.warning("%s: Redis unavailable (%s); waiting for it", self.who, error)

    def _back(self) -> None:
        if self.down_since is not None:
            self.logger.warning("%s: Redis is back after %.1fs", self.who, time.monotonic() - self.down_since)
            self.down_since = None

    def wait(self) -> bool:
        """Block until Redis answers (True) or a stop is requested (False)."""
        pause = FIRST_PAUSE
        while not self.should_stop():
            try:
                self.connection.ping()
            except REDIS_DOWN as error:
                self.noticed(error)
                deadline = time.monotonic() + pause
                while time.monotonic() < deadline and not self.should_stop():
                    time.sleep(SLICE)
                pause = min(pause * 2, MAX_PAUSE)
                continue
            self._back()
            return True
        return False
