"""The transactional outbox: background jobs recorded with the write they belong to."""

import uuid

from django.db import models


class OutboxJob(models.Model):
    """A job to send to RQ, written in the same transaction as the business write.

    `sent_at` stays empty until the job is in Redis; the relay pushes what is
    still pending once Redis answers. The RQ job id comes from `key`, a random
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

    class Meta:
        indexes = [models.Index(fields=["sent_at", "id"], name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.rq_job_id} {self.func_path}"

    @property
    def rq_job_id(self) -> str:
        return f"outbox-{self.key.hex}"
