"""Scheduled jobs, declared in code, and the scheduler process that runs them.

Each installed app declares what runs when in its own `schedules.py`, as a
`schedules()` function returning Schedule objects; `declared_schedules()`
collects them from every app Django knows, so this module names no app.
`manage.py run_scheduler` registers them when it starts. Registration is
idempotent: every schedule has a fixed job id, an unchanged one is left as it
is (keeping its next run time), a changed one is replaced, and one no longer
declared is removed, so restarting the scheduler ten times leaves each once.

The process also moves due retries (rq's `Retry(interval=...)` puts a failed
job in each queue's ScheduledJobRegistry) into their queues, so workers need
no `--with-scheduler`. HUP, TERM or INT finish the current pass and exit 0;
a second TERM or INT exits at once, a second HUP changes nothing.

A Redis outage of any length is waited out (corelib.redis_outage): the
process never exits for it, and once Redis is back it registers itself and the
schedules again, which a Redis restarted without its data has forgotten.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import signal
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import sentry_sdk
from django.apps import apps
from django.conf import settings
from django_rq.queues import DjangoScheduler
from rq.scheduler import RQScheduler

from corelib.hangup import finish_exit
from corelib.jobpolicy import policy_for
from corelib.redis_outage import REDIS_DOWN, RedisOutage

logger = logging.getLogger("corelib.rq.scheduler")
# rq-scheduler calls crontab's next() the way that library warns about; its behaviour is what we rely on.
warnings.filterwarnings("ignore", category=FutureWarning, module="rq_scheduler.utils")

ID_PREFIX = "schedule-"
REGISTRATION_LOCK = "corelib:scheduler:registration"


@dataclass(frozen=True)
class Schedule:
    name: str
    func_path: str
    interval: int | None = None  # seconds, first run at registration
    cron: str | None = None  # in settings.TIME_ZONE: Django sets the process's TZ, rq-scheduler reads local time

    @property
    def job_id(self) -> str:
        return ID_PREFIX + self.name

    def signature(self) -> str:
        policy = policy_for(self.func_path)
        spec = [self.func_path, self.interval, self.cron, policy.queue, policy.timeout]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


def declared_schedules() -> list[Schedule]:
    """Every installed app's schedules (`<app>/schedules.py`, function `schedules()`), in app order."""
    collected: list[Schedule] = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.schedules"
        if importlib.util.find_spec(module_name) is None:
            continue
        collected.extend(importlib.import_module(module_name).schedules())
    return collected


def _create(scheduler: DjangoScheduler, schedule: Schedule) -> None:
    policy = policy_for(schedule.func_path)
    options = {
        "id": schedule.job_id,
        "queue_name": policy.queue,
        "timeout": policy.timeout,
        "meta": {"schedule_signature": schedule.signature()},
    }
    if schedule.interval:
        scheduler.schedule(datetime.now(UTC), schedule.func_path, interval=schedule.interval, **options)
    else:
        scheduler.cron(schedule.cron, schedule.func_path, result_ttl=policy.result_ttl, **options)


def register_schedules(scheduler: DjangoScheduler, schedules: list[Schedule] | None = None) -> dict[str, str]:
    """Make the scheduled jobs match `schedules`. Returns {job id: kept|created|replaced|removed}."""
    schedules = declared_schedules() if schedules is None else schedules
    outcome: dict[str, str] = {}
    with scheduler.connection.lock(REGISTRATION_LOCK, timeout=60, blocking_timeout=60):
        existing = {job.id: job for job in scheduler.get_jobs() if job.id.startswith(ID_PREFIX)}
        for schedule in schedules:
            job = existing.pop(schedule.job_id, None)
            if job is not None and job.meta.get("schedule_signature") == schedule.signature():
                outcome[schedule.job_id] = "kept"
                continue
            if job is not None:
                scheduler.cancel(job)
            _create(scheduler, schedule)
            outcome[schedule.job_id] = "replaced" if job is not None else "created"
        for job_id, job in existing.items():
            scheduler.cancel(job)
            job.delete()
            outcome[job_id] = "removed"
    logger.info("schedules registered: %s", ", ".join(f"{key}={value}" for key, value in sorted(outcome.items())))
    return outcome


class GracefulScheduler(DjangoScheduler):
    """rq-scheduler's loop with a warm stop on HUP/TERM/INT and rq's delayed retries."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._stop_requested = False
        self._outage: RedisOutage | None = None
        self._retries = RQScheduler(list(settings.RQ_QUEUES), connection=self.connection, interval=self._interval)

    def _install_signal_handlers(self) -> None:
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._request_stop)

    def _request_stop(self, signum, frame) -> None:
        logger.info("scheduler: %s received, exiting after this pass", signal.Signals(signum).name)
        self._stop_requested = True
        # A later HUP is the same reload again (they may come 0.5 s apart); a second TERM/INT is not.
        signal.signal(signal.SIGHUP, self._already_stopping)
        for other in (signal.SIGTERM, signal.SIGINT):
            signal.signal(other, self._force_stop)

    def _already_stopping(self, signum, frame) -> None:
        logger.info("scheduler: HUP again; already exiting after this pass")

    def _force_stop(self, signum, frame) -> None:
        logger.warning("scheduler: second signal (%s), exiting now", signal.Signals(signum).name)
        raise SystemExit(1)

    def ride_out_redis_outage(self, error: BaseException | None = None) -> bool:
        """Wait for Redis (True once it answers, False when asked to stop); after an outage, register again."""
        if self._outage is None:
            self._outage = RedisOutage(self.connection, "scheduler", logger, lambda: self._stop_requested)
        if error is not None:
            self._outage.noticed(error)
        if not self._outage.wait():
            return False
        if error is not None:
            try:
                if not self.connection.hexists(self.key, "birth"):
                    self.connection.delete(self.key)
                    self.register_birth()
                register_schedules(self)
            except REDIS_DOWN as again:
                return self.ride_out_redis_outage(again)
        return True

    def _pass(self) -> None:
        self.heartbeat()
        if self.acquire_lock():
            self.enqueue_jobs()
            self.remove_lock()
        else:
            logger.debug("scheduler lock held by another scheduler; skipping this pass")
        if self._retries.acquire_locks():
            self._retries.enqueue_scheduled_jobs()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def run(self, burst: bool = False) -> None:
        self._install_signal_handlers()
        if not self.ride_out_redis_outage():  # stopped while Redis was still down
            finish_exit()
            return
        self.register_birth()
        logger.info("scheduler %s started, checking every %ss", self.name, self._interval)
        try:
            while not self._stop_requested:
                started = time.monotonic()
                try:
                    self._pass()
                except REDIS_DOWN as error:
                    if not self.ride_out_redis_outage(error):
                        break
                    continue
                if burst:
                    break
                self._sleep(self._interval - (time.monotonic() - started))
        finally:
            try:
                self.remove_lock()
                self._retries.release_locks()
                self.register_death()
            except REDIS_DOWN as error:
                logger.warning("scheduler: exiting without deregistering, Redis unavailable (%s)", error)
            logger.info("scheduler %s stopped", self.name)
        sentry_sdk.flush(timeout=5)
        finish_exit()  # under Supervisor: exit 0 here, without Python's slow shutdown
