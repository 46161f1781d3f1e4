"""The transactional outbox: background jobs recorded with the write they belong to."""

import uuid

from django.db import models


class OutboxJob(models.Model):
    """A job to send to RQ, written in the same transaction as the business write.

    `sent_at` stays empty until the job is in Redis; the relay pushes what is
    still pending once Redis answers. The row stays open (`state` "pushed")
    until the job has finished or failed for good (`finished_at`), so a job
    Redis lost is pushed again (corelib.outbox). Rows with no `state` were
    written by a release before that tracking and are only pushed, never
    followed. The RQ job id comes from `key`, a random
    UUID, not from the row id: ids repeat across databases sharing one Redis
    (another checkout, a reset database), and a repeated job id would read as
    "already pushed" and the job would be skipped.
    """

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    func_path = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    # Added later, all nullable so that the previous release keeps inserting rows (expand-then-contract).
    state = models.CharField(max_length=16, null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)  # a pusher's lease on the row
    missing_since = models.DateTimeField(null=True, blank=True)  # first seen pushed but unknown to Redis
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["sent_at", "id"], name="outbox_pending"),
            models.Index(fields=["state", "id"], name="outbox_state"),
        ]

    def __str__(self) -> str:
        return f"{self.rq_job_id} {self.func_path}"

    @property
    def rq_job_id(self) -> str:
        return f"outbox-{self.key.hex}"


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an `Idempotency-Key` (corelib.idempotency).

    `digest` hashes the caller's scope with the key, so one row per user and key.
    `status` stays empty while the first request runs; `lease_until` says until
    when that request is presumed alive.
    """

    digest = models.CharField(max_length=64, unique=True)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True, default="")
    body = models.BinaryField(default=b"")

    def __str__(self) -> str:
        return f"{self.digest[:12]} ({self.status or 'in progress'})"
