"""Background jobs that survive a Redis outage or a Redis that lost its data: a transactional outbox.

`enqueue_on_commit("apps.boards.jobs.moderate_message", message.id)` writes an
OutboxJob row in the caller's transaction (call it inside the
`transaction.atomic()` of the business write). After the commit one immediate
attempt pushes it to RQ; if Redis does not answer the request still succeeds
and `relay_outbox()` (a scheduled job, also callable) pushes it later.

A row stays open until its job is done. The job carries RQ callbacks
(corelib.outbox_tracking) that close the row when it finished, or when it
failed with no retry left (logged as an error, and reported to Sentry by the
worker). Each relay run also follows the open rows: a job Redis reports done
closes its row; a job Redis no longer knows at all (a restart without its
data, a failover) is pushed again with the same job id, once it has been
missing longer than its own timeout plus OUTBOX_REPUSH_GRACE, since a lost copy
may still run on a work horse until its timeout kills it. So no job is lost,
and no job runs twice at once.

Writers never wait for the relay. It finds rows with a plain (non-locking)
read and claims each by primary key with a conditional UPDATE that sets a
short lease (`claimed_until`) in its own autocommit statement: only that one
record is locked, for one statement, and Redis is called with no transaction
open. A SELECT ... FOR UPDATE over the pending index, held while pushing,
locked the gap where new rows go and stalled every insert for the whole batch.

Only one pusher holds a row's lease, and Redis refuses a job id it already
has (rq's atomic unique enqueue), so a row whose "sent" mark was lost is not
pushed twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from redis.exceptions import LockError, RedisError
from rq import Callback, Queue
from rq.exceptions import DuplicateJobError

from corelib.jobpolicy import job_policy, policy_for
from corelib.models import OutboxJob

logger = logging.getLogger(__name__)

PENDING, PUSHED, FINISHED, FAILED = "pending", "pushed", "finished", "failed"
MARKER_TTL = 7 * 24 * 3600
RELAY_BATCH = 200
KEEP_FINISHED = timedelta(days=7)
# Longer than one push can take (RQ_REDIS_TIMEOUT): a pusher that died gives its rows up after it.
CLAIM = timedelta(seconds=60)
# A job pushed this recently may not be visible yet to a concurrent check.
SETTLE = timedelta(seconds=5)
RELAY_LOCK = "outbox:relay:running"
RELAY_TIMEOUT = 120
# Pushed rows are marked sent in groups of this many (one UPDATE by primary keys).
MARK_EVERY = 50


def enqueue_on_commit(func_path: str, *args, queue: str = "default", using: str = "default", **kwargs) -> OutboxJob:
    """Record the job now, push it after commit (or let the relay push it later).

    The job's declared policy (`@job_policy`) sets its queue, timeout and
    retries; `queue` applies only to a function without one.
    Arguments must be JSON-serialisable (ids, strings, numbers).
    """
    policy = policy_for(func_path, queue)
    row = OutboxJob.objects.using(using).create(
        func_path=func_path, args=list(args), kwargs=kwargs, queue=policy.queue, state=PENDING
    )
    transaction.on_commit(lambda: push_now(row.pk, using=using), using=using)
    return row


def _marker_key(row: OutboxJob) -> str:
    return f"outbox:pushed:{row.rq_job_id}"


def claim(row_id: int, using: str, condition: Q) -> bool:
    """Take a lease on one row if it still matches `condition` and nobody holds it.

    One UPDATE by primary key, in its own autocommit statement: it locks that one record only.
    """
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return bool(
        OutboxJob.objects.using(using).filter(Q(pk=row_id) & free & condition).update(claimed_until=now + CLAIM)
    )


def release(row: OutboxJob, using: str, **changes) -> None:
    OutboxJob.objects.using(using).filter(pk=row.pk).update(claimed_until=None, **changes)


Queues = dict[str, Queue]


def queue_for(name: str, queues: Queues) -> Queue:
    """The RQ queue `name`, made once per relay run: each get_queue() opens a new Redis connection."""
    if name not in queues:
        queues[name] = django_rq.get_queue(name, commit_mode="auto")
    return queues[name]


def push(row: OutboxJob, queues: Queues | None = None) -> None:
    """Send one claimed row to RQ; raises RedisError when Redis does not answer."""
    from corelib.outbox_tracking import JOB_FAILED, JOB_FINISHED

    policy = policy_for(row.func_path, row.queue)
    queue = queue_for(row.queue, {} if queues is None else queues)
    # The previous release's relay skips a row whose marker exists; keep writing it for a rolling deploy.
    queue.connection.set(_marker_key(row), 1, ex=MARKER_TTL)
    try:
        queue.enqueue_call(
            row.func_path,
            args=row.args,
            kwargs=row.kwargs,
            job_id=row.rq_job_id,
            unique=True,
            on_success=Callback(JOB_FINISHED),
            on_failure=Callback(JOB_FAILED),
            **policy.enqueue_call_options(),
        )
    except DuplicateJobError:
        pass  # Redis has it already: an earlier push whose "sent" mark did not reach MySQL


def mark_pushed(row_ids: list[int], using: str) -> None:
    """Release rows that are now in Redis and record when they were pushed."""
    if not row_ids:
        return
    OutboxJob.objects.using(using).filter(pk__in=row_ids).update(
        claimed_until=None,
        sent_at=timezone.now(),
        # A fast job may have closed its row already: keep its outcome.
        state=Case(When(finished_at__isnull=True, then=Value(PUSHED)), default=F("state")),
        attempts=F("attempts") + 1,
        last_error="",
        missing_since=None,
    )


def _record_failure(row: OutboxJob, using: str, error: Exception) -> None:
    release(row, using, attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:500])


def push_now(row_id: int, using: str = "default") -> bool:
    """The immediate attempt after commit. Never raises: the relay is the fallback."""
    try:
        pending = Q(sent_at__isnull=True)
        row = OutboxJob.objects.using(using).filter(pk=row_id).first() if claim(row_id, using, pending) else None
        if row is None:  # already sent, or the relay holds it right now
            return False
        try:
            push(row)
        except RedisError as error:
            logger.warning("outbox %s: Redis unavailable, the relay will push it (%s)", row.rq_job_id, error)
            _record_failure(row, using, error)
            return False
        mark_pushed([row.pk], using)
        return True
    except Exception:
        logger.exception("outbox row %s: immediate push failed; the relay will retry", row_id)
        return False


def candidates(using: str, condition: Q, batch: int, after: int) -> list[OutboxJob]:
    """Rows matching `condition` with no live lease, oldest first: a plain read that locks nothing."""
    now = timezone.now()
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return list(OutboxJob.objects.using(using).filter(condition & free, pk__gt=after).order_by("id")[:batch])


def push_pending(batch: int = RELAY_BATCH, using: str = "default") -> int:
    """Push every row not yet in Redis. Returns how many were pushed; stops when Redis fails."""
    queues: Queues = {}
    pushed, after, pending = 0, 0, Q(sent_at__isnull=True)
    while rows := candidates(using, pending, batch, after):
        done: list[int] = []
        try:
            for row in rows:
                after = row.pk
                if not claim(row.pk, using, pending):
                    continue  # pushed by someone else meanwhile
                try:
                    push(row, queues)
                except RedisError as error:
                    logger.warning("outbox relay: Redis unavailable, %s stays pending (%s)", row.rq_job_id, error)
                    _record_failure(row, using, error)
                    return pushed
                done.append(row.pk)
                pushed += 1
                if len(done) >= MARK_EVERY:
                    mark_pushed(done, using)
                    done = []
        finally:
            mark_pushed(done, using)
    return pushed


@job_policy(queue="high", timeout=RELAY_TIMEOUT)
def relay_outbox(batch: int = RELAY_BATCH, using: str = "default") -> int:
    """Push pending rows, then follow pushed ones (see the module docstring). Returns how many were pushed.

    One run at a time: the scheduler enqueues a run every OUTBOX_RELAY_INTERVAL
    whether the last one ended or not, and runs piling up would take every worker
    away from the jobs they relay. A run that finds another one going returns.
    """
    from corelib.outbox_tracking import follow_pushed

    queues: Queues = {}
    try:
        lock = queue_for("high", queues).connection.lock(RELAY_LOCK, timeout=RELAY_TIMEOUT, blocking=False)
        if not lock.acquire():
            logger.info("outbox relay: another run is going; this one ends")
            return 0
    except RedisError as error:
        logger.warning("outbox relay: Redis unavailable, nothing to relay to (%s)", error)
        return 0
    try:
        pushed = push_pending(batch, using)
        repushed = follow_pushed(batch, using)
    finally:
        try:
            lock.release()
        except (RedisError, LockError):  # expired, or Redis lost it: it frees itself
            pass
    if pushed or repushed:
        logger.info("outbox relay: pushed %d job(s), pushed again %d lost one(s)", pushed, repushed)
    return pushed + repushed


def repush_after(row: OutboxJob) -> timedelta:
    """How long a pushed job may be unknown to Redis before it is pushed again."""
    return timedelta(seconds=policy_for(row.func_path, row.queue).timeout + settings.OUTBOX_REPUSH_GRACE)


@job_policy(queue="low", timeout=300)
def purge_sent_outbox() -> int:
    """Delete rows done more than a week ago (and untracked rows sent as long ago): not an archive."""
    cutoff = timezone.now() - KEEP_FINISHED
    done = Q(finished_at__lt=cutoff) | Q(state__isnull=True, sent_at__lt=cutoff)
    deleted, _ = OutboxJob.objects.filter(done).delete()
    return deleted
