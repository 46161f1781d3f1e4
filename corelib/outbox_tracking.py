"""Closing outbox rows when their jobs are done, and pushing again the jobs Redis lost.

Two ways a row learns its job's fate:

- RQ callbacks, run in the work horse right after the job: `job_finished` on
  success, `job_failed` on a failure with no retry left. They never raise (a
  failing success callback would make rq fail the job): if MySQL does not
  answer, the relay finds the outcome in Redis later.
- `follow_pushed()`, each relay run: for every open row pushed more than a few
  seconds ago, the job's status in Redis. Finished or failed closes the row;
  queued, started or scheduled leaves it; unknown starts a clock
  (`missing_since`) and, once that exceeds the job's timeout plus
  OUTBOX_REPUSH_GRACE, pushes the job again with the same id.

Which jobs may run twice, and why that is safe: every project job is written
to be idempotent. `moderate_message` updates only a message not yet moderated;
`notify_reply` skips a reply already marked notified; `refresh_access_tokens`
skips tokens that are fresh; `rollup_daily_stats` upserts; the purges delete
what is old; `relay_outbox` claims each row. The one residue: a job that ran
but whose completion reached neither MySQL (callback) nor Redis before both
were lost runs again; for `notify_reply` that is a second notification only
if its Redis marker was lost too.
"""

from __future__ import annotations

import logging
import uuid

from django.db import Error as DatabaseError  # InterfaceError (a closed connection) is not a DatabaseError
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from redis.exceptions import RedisError
from rq.job import Job, JobStatus

from corelib.models import OutboxJob
from corelib.outbox import (
    FAILED,
    FINISHED,
    PUSHED,
    SETTLE,
    Queues,
    candidates,
    claim,
    mark_pushed,
    push,
    queue_for,
    release,
    repush_after,
)

logger = logging.getLogger("corelib.outbox")

JOB_FINISHED = "corelib.outbox_tracking.job_finished"
JOB_FAILED = "corelib.outbox_tracking.job_failed"
ID_PREFIX = "outbox-"
DONE = {JobStatus.FINISHED.value: FINISHED, JobStatus.FAILED.value: FAILED, JobStatus.STOPPED.value: FAILED}
DONE[JobStatus.CANCELED.value] = FAILED


def _row_key(job_id: str) -> uuid.UUID | None:
    if not job_id.startswith(ID_PREFIX):
        return None
    try:
        return uuid.UUID(hex=job_id.removeprefix(ID_PREFIX))
    except ValueError:
        return None


def close_row(job_id: str, outcome: str, using: str = "default") -> bool:
    """Mark the row of `job_id` done with `outcome`. False when there is none (or it was closed)."""
    key = _row_key(job_id)
    if key is None:
        return False
    now = timezone.now()
    rows = OutboxJob.objects.using(using).filter(key=key, finished_at__isnull=True)
    return bool(rows.update(finished_at=now, state=outcome, sent_at=Coalesce("sent_at", now), missing_since=None))


def job_finished(job: Job, connection, result, *args, **kwargs) -> None:
    """RQ success callback (in the work horse)."""
    try:
        close_row(job.id, FINISHED)
    except DatabaseError as error:
        logger.warning("outbox %s finished, but its row stays open until the relay sees it: %s", job.id, error)


def job_failed(job: Job, connection, exc_type, exc_value, traceback, *args, **kwargs) -> None:
    """RQ failure callback (in the work horse); a job that will be retried keeps its row open."""
    if job.should_retry:
        return
    logger.error(
        "outbox %s %s failed for good: %s: %s", job.id, job.func_name, getattr(exc_type, "__name__", ""), exc_value
    )
    try:
        close_row(job.id, FAILED)
    except DatabaseError as error:
        logger.warning("outbox %s failed, but its row stays open until the relay sees it: %s", job.id, error)


def _statuses_in_redis(rows: list[OutboxJob], queues: Queues) -> list[str | None]:
    """Each row's job status in Redis (None: unknown to Redis), in one round trip per queue's Redis."""
    by_connection: dict[int, tuple] = {}
    for index, row in enumerate(rows):
        connection = queue_for(row.queue, queues).connection
        entry = by_connection.setdefault(id(connection), (connection, []))
        entry[1].append(index)
    statuses: list[str | None] = [None] * len(rows)
    for connection, indexes in by_connection.values():
        with connection.pipeline(transaction=False) as pipe:
            for index in indexes:
                pipe.hget(Job.key_for(rows[index].rq_job_id), "status")
            for index, status in zip(indexes, pipe.execute(), strict=True):
                statuses[index] = status.decode() if isinstance(status, bytes) else status
    return statuses


def _settle(row: OutboxJob, status: str | None, using: str, queues: Queues, open_pushed: Q) -> bool:
    """Act on one row from its job's status in Redis. True when the job was pushed again."""
    if status in DONE:
        if DONE[status] == FAILED:
            logger.error("outbox %s %s failed for good (%s in Redis)", row.rq_job_id, row.func_path, status)
        close_row(row.rq_job_id, DONE[status], using)  # conditional on the row being open: no claim needed
        return False
    if status is not None:  # queued, started, scheduled, deferred: on its way
        if row.missing_since is not None:
            OutboxJob.objects.using(using).filter(pk=row.pk).update(missing_since=None)
        return False
    now = timezone.now()
    if row.missing_since is not None and now - row.missing_since < repush_after(row):
        return False  # a lost copy may still be running: wait out its timeout
    if not claim(row.pk, using, open_pushed):
        return False  # closed or claimed meanwhile
    if row.missing_since is None:
        logger.warning("outbox %s %s: Redis no longer knows the job", row.rq_job_id, row.func_path)
        release(row, using, missing_since=now)
        return False
    logger.warning("outbox %s %s: lost by Redis, pushing it again", row.rq_job_id, row.func_path)
    try:
        push(row, queues)
    except RedisError:
        release(row, using)
        raise
    mark_pushed([row.pk], using)
    return True


def follow_pushed(batch: int, using: str = "default") -> int:
    """Follow every open pushed row (see the module docstring). Returns how many jobs were pushed again.

    Reads the rows and their jobs' statuses in batches; only a row whose job is
    missing is claimed (a write), so following thousands of queued jobs costs a
    read and a pipelined Redis round trip per batch.
    """
    queues: Queues = {}
    repushed, after = 0, 0
    settled_before = timezone.now() - SETTLE
    open_pushed = Q(state=PUSHED, finished_at__isnull=True, sent_at__lt=settled_before)
    while rows := candidates(using, open_pushed, batch, after):
        after = rows[-1].pk
        try:
            statuses = _statuses_in_redis(rows, queues)
            for row, status in zip(rows, statuses, strict=True):
                repushed += _settle(row, status, using, queues, open_pushed)
        except RedisError as error:
            logger.warning("outbox relay: Redis unavailable while following jobs (%s)", error)
            return repushed
    return repushed
