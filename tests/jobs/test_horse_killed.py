"""kill -9 of a work horse in the middle of a project job with a retry policy: retried, finished once."""

import os
import signal
import subprocess

import pytest
import requests
from rq.job import Job, JobStatus

from apps.boards.models import Message
from corelib.models import OutboxJob
from corelib.outbox import enqueue_on_commit
from tests.jobs.conftest import wait_until, wechat_calls

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

MODERATE = "apps.boards.jobs.moderate_message"


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in found.split()]


def test_a_moderation_whose_work_horse_is_killed_is_retried_and_finishes_once(
    people, wechat, start_worker, start_scheduler, redis_conn
):
    # The first msg_sec_check hangs: the horse is mid-job when it is killed.
    requests.post(
        f"{wechat}/__standin__/faults", json={"path": "/wxa/msg_sec_check", "delay": 30, "count": 1}, timeout=5
    )
    message = Message.objects.create(board=people["board"], author=people["user"], content="killed mid-check")
    row = enqueue_on_commit(MODERATE, message.id)
    env = {"WECHAT_API_BASE": wechat, "WECHAT_READ_TIMEOUT": "60", "SCHEDULER_INTERVAL": "1"}
    worker = start_worker(**env)
    start_scheduler(**env)  # moves the retry, due 10 s after the failure, into its queue

    wait_until(lambda: wechat_calls(wechat, "/wxa/msg_sec_check"), 30, "the job to call WeChat")
    (horse,) = wait_until(lambda: _children(worker.pid), 10, "the work horse")
    os.kill(horse, signal.SIGKILL)

    wait_until(lambda: Message.objects.get(pk=message.id).moderated_at, 60, "the retried moderation")
    job = Job.fetch(row.rq_job_id, connection=redis_conn)
    wait_until(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 10, "the job to finish")
    assert job.retries_left == 4  # one of its five retries used
    assert len(wechat_calls(wechat, "/wxa/msg_sec_check")) == 2  # the killed attempt and the retry
    wait_until(lambda: OutboxJob.objects.get(pk=row.pk).state == "finished", 10, "the outbox row to close")
    assert worker.process.poll() is None
