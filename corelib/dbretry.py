"""Run a write transaction again when InnoDB picked it as a deadlock victim or its lock wait timed out.

Both errors roll the whole transaction back and leave the data unchanged, so
running it again from the start is safe and is what MySQL's own message asks
for ("try restarting transaction"). A handful of attempts with a short,
jittered pause resolve the races of normal traffic; a conflict that outlasts
them is contention, not an outage, and answers 503 `database_busy` (the client
may retry) instead of `database_unavailable`.

Only the outermost transaction can be restarted: inside an enclosing
`atomic()` the error is re-raised for the owner of that transaction.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction
from django.db import connections as db_connections

from corelib.errors import ServiceUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205
RETRYABLE = frozenset({DEADLOCK, LOCK_WAIT_TIMEOUT})
ATTEMPTS = 5
# Pause before attempt n (1-based, after the first): BASE_PAUSE * 2**(n-1), jittered.
BASE_PAUSE = 0.01


class DatabaseConflictError(ServiceUnavailableError):
    """A write kept losing lock conflicts after every attempt."""

    code = "database_busy"

    def __init__(self, attempts: int):
        super().__init__(
            f"The write conflicted with concurrent writes {attempts} times. Retry shortly.",
            headers={"Retry-After": "1"},
        )


def mysql_error_code(error: BaseException) -> int | None:
    """The server's error number behind a Django OperationalError, if any."""
    cause = error.__cause__ or error
    args = getattr(cause, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def is_lock_conflict(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and mysql_error_code(error) in RETRYABLE


def atomic_with_retry(work: Callable[[], T], *, using: str = "default", attempts: int | None = None) -> T:
    """`work()` inside `transaction.atomic(using)`, restarted after a deadlock or lock wait timeout."""
    attempts = attempts or ATTEMPTS
    if db_connections[using].in_atomic_block:
        with transaction.atomic(using=using):
            return work()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic(using=using):
                return work()
        except OperationalError as error:
            if not is_lock_conflict(error):
                raise
            logger.info("lock conflict (%s), attempt %d of %d", mysql_error_code(error), attempt, attempts)
            if attempt < attempts:
                time.sleep(BASE_PAUSE * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter, not a secret)
    logger.warning("write gave up after %d lock conflicts", attempts)
    raise DatabaseConflictError(attempts)
