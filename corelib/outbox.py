"""Background jobs that survive a Redis outage: a transactional outbox.

`enqueue_on_commit("apps.boards.jobs.moderate_message", message.id)` writes an
OutboxJob row in the caller's transaction (call it inside the
`transaction.atomic()` of the business write). After the commit one immediate
attempt pushes it to RQ; if Redis does not answer the request still succeeds
and `relay_outbox()` (a scheduled job, also callable) pushes the pending rows
once Redis is back.

Exactly once per row: a pusher holds the row's lock (select_for_update,
skip_locked, so the relay and the immediate attempt never push the same row at
once), and the RQ job (id `outbox-<row key>`) is written together with a marker key
in one Redis transaction. If the row could not be marked sent after the push,
the next pusher finds the marker and only marks the row.
"""

import logging
from datetime import timedelta

import django_rq
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from corelib.jobpolicy import job_policy, policy_for
from corelib.models import OutboxJob

logger = logging.getLogger(__name__)

MARKER_TTL = 7 * 24 * 3600
RELAY_BATCH = 200
KEEP_SENT = timedelta(days=7)


def enqueue_on_commit(func_path: str, *args, queue: str = "default", using: str = "default", **kwargs) -> OutboxJob:
    """Record the job now, push it after commit (or let the relay push it later).

    The job's declared policy (`@job_policy`) sets its queue, timeout and
    retries; `queue` applies only to a function without one.
    Arguments must be JSON-serialisable (ids, strings, numbers).
    """
    policy = policy_for(func_path, queue)
    row = OutboxJob.objects.using(using).create(func_path=func_path, args=list(args), kwargs=kwargs, queue=policy.queue)
    transaction.on_commit(lambda: push_now(row.pk, using=using), using=using)
    return row


def _marker_key(row: OutboxJob) -> str:
    return f"outbox:pushed:{row.rq_job_id}"


def _push(row: OutboxJob) -> None:
    """Send one locked row to RQ; raises RedisError when Redis does not answer."""
    policy = policy_for(row.func_path, row.queue)
    queue = django_rq.get_queue(row.queue, commit_mode="auto")
    connection = queue.connection
    if not connection.exists(_marker_key(row)):
        with connection.pipeline() as pipe:
            queue.enqueue_call(
                row.func_path,
                args=row.args,
                kwargs=row.kwargs,
                job_id=row.rq_job_id,
                pipeline=pipe,
                **policy.enqueue_call_options(),
            )
            pipe.set(_marker_key(row), 1, ex=MARKER_TTL)
            pipe.execute()
    row.sent_at = timezone.now()
    row.attempts += 1
    row.last_error = ""
    row.save(update_fields=["sent_at", "attempts", "last_error"])


def _record_failure(row: OutboxJob, error: Exception) -> None:
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:500]
    row.save(update_fields=["attempts", "last_error"])


def push_now(row_id: int, using: str = "default") -> bool:
    """The immediate attempt after commit. Never raises: the relay is the fallback."""
    try:
        with transaction.atomic(using=using):
            row = (
                OutboxJob.objects.using(using)
                .select_for_update(skip_locked=True)
                .filter(pk=row_id, sent_at__isnull=True)
                .first()
            )
            if row is None:  # already sent, or the relay holds it right now
                return False
            try:
                _push(row)
            except RedisError as error:
                logger.warning("outbox %s: Redis unavailable, the relay will push it (%s)", row.rq_job_id, error)
                _record_failure(row, error)
                return False
        return True
    except Exception:
        logger.exception("outbox row %s: immediate push failed; the relay will retry", row_id)
        return False


@job_policy(queue="high", timeout=120)
def relay_outbox(batch: int = RELAY_BATCH, using: str = "default") -> int:
    """Push pending outbox rows to RQ, oldest first. Returns how many were pushed."""
    pushed = 0
    while True:
        with transaction.atomic(using=using):
            rows = list(
                OutboxJob.objects.using(using)
                .select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("id")[:batch]
            )
            if not rows:
                return pushed
            for row in rows:
                try:
                    _push(row)
                except RedisError as error:
                    logger.warning("outbox relay: Redis unavailable, %s stays pending (%s)", row.rq_job_id, error)
                    _record_failure(row, error)
                    return pushed
                pushed += 1
        if len(rows) < batch:
            if pushed:
                logger.info("outbox relay: pushed %d job(s)", pushed)
            return pushed


@job_policy(queue="low", timeout=300)
def purge_sent_outbox() -> int:
    """Delete rows sent more than a week ago: the outbox is not an archive."""
    deleted, _ = OutboxJob.objects.filter(sent_at__lt=timezone.now() - KEEP_SENT).delete()
    return deleted
