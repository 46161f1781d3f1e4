"""Enqueue a background job once the current transaction commits.

Views call `enqueue_on_commit("apps.boards.jobs.moderate_message", message.id)`.
The job is sent only if the write it belongs to is committed.
"""

import logging

import django_rq
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(func_path: str, *args, queue: str = "default", using: str = "default", **kwargs) -> None:
    def send() -> None:
        django_rq.get_queue(queue).enqueue(func_path, *args, **kwargs)

    transaction.on_commit(send, using=using)
