"""An RQ worker that waits out a Redis outage instead of exiting (mixed into corelib.rq.SentryWorker).

Plain rq retries a lost connection only while it waits for a job; anywhere
else (a heartbeat, the maintenance tasks, watching a work horse, starting up)
a Redis error ends the worker ("found an unhandled exception, quitting").
Here every one of those waits for Redis (corelib.redis_outage) and carries on:

- at start-up, before registering;
- a heartbeat or a maintenance pass waits, then registers the worker again if
  Redis came back without its data;
- while a work horse runs, a failed heartbeat is only noted: the horse goes on;
  if watching it fails, the worker waits for the horse to exit, then for Redis.
  What the job did is then settled by rq's registries or the outbox
  (corelib.outbox_tracking);
- a stop signal during a wait ends the worker normally (exit 0).

MariaDB needs nothing here: the worker process does not use it, and a job
that fails because MariaDB is down is retried by its own policy.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import TYPE_CHECKING

from rq import Worker
from rq.worker.base import StopRequested

from corelib.redis_outage import REDIS_DOWN, RedisOutage

logger = logging.getLogger("corelib.rq")


if TYPE_CHECKING:
    _WorkerBase = Worker  # the mixin is checked against what it extends
else:
    _WorkerBase = object


class RidesOutRedisOutages(_WorkerBase):
    """Mixin for rq.Worker; put it before Worker in the bases."""

    @property
    def redis_outage(self) -> RedisOutage:
        outage = self.__dict__.get("_redis_outage")
        if outage is None:
            outage = RedisOutage(
                self.connection, f"worker {self.name}", logger, lambda: getattr(self, "_stop_requested", False)
            )
            self.__dict__["_redis_outage"] = outage
        return outage

    def _wait_for_redis(self) -> None:
        """Wait until Redis answers; a stop request meanwhile ends the worker like any stop."""
        if not self.redis_outage.wait():
            raise StopRequested()
        self._register_again_if_lost()

    def _register_again_if_lost(self) -> None:
        # A Redis restarted without its data forgot this worker; without its registration the
        # worker is invisible to the admin pages and to the checks of who is alive.
        if not self.connection.hexists(self.key, "birth"):
            self.connection.delete(self.key)
            self.register_birth()
            logger.warning("worker %s: registered again (Redis had lost its registration)", self.name)

    def _stop_while_waiting(self, signum, frame) -> None:
        logger.info("worker %s: %s while waiting for Redis; exiting", self.name, signal.Signals(signum).name)
        self._stop_requested = True

    # --- start-up ---------------------------------------------------------------------
    def _wait_at_start(self) -> bool:
        """Wait for Redis before rq's own signal handlers exist; False when stopped meanwhile."""
        stops = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
        previous = {signum: signal.signal(signum, self._stop_while_waiting) for signum in stops}
        try:
            return self.redis_outage.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _set_ip_address(self, connection) -> None:
        # rq's constructor already talks to Redis (CLIENT SETNAME).
        try:
            super()._set_ip_address(connection)
        except REDIS_DOWN as error:
            self.connection = connection
            self.redis_outage.noticed(error)
            if not self._wait_at_start():
                raise SystemExit(0) from None
            super()._set_ip_address(connection)

    def work(self, *args, **kwargs) -> bool:
        if not self._wait_at_start():
            return False
        return super().work(*args, **kwargs)

    # --- the work loop --------------------------------------------------------------------
    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None:  # only queued on the caller's pipeline
            return super().heartbeat(timeout, pipeline=pipeline)
        try:
            return super().heartbeat(timeout)
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)
            self._wait_for_redis()
            return super().heartbeat(timeout)

    def set_state(self, state, pipeline=None) -> None:
        if pipeline is not None:
            return super().set_state(state, pipeline=pipeline)
        try:
            super().set_state(state)
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)  # the next heartbeat waits for Redis

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)
            self._wait_for_redis()

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)
            self._wait_for_redis()

    # --- while a job runs -------------------------------------------------------------------
    def maintain_heartbeats(self, job, execution) -> None:
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)  # the horse goes on; the next heartbeat tries again

    def execute_job(self, job, queue) -> None:
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN as error:
            self.redis_outage.noticed(error)
            self._wait_for_horse_to_exit()
            logger.warning("worker %s: lost Redis while running job %s; rq or the outbox settles it", self.name, job.id)
            self._wait_for_redis()

    def _wait_for_horse_to_exit(self) -> None:
        pid = self._horse_pid
        if pid:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self._horse_pid = 0

    # --- shutting down ----------------------------------------------------------------------
    def register_death(self) -> None:
        try:
            super().register_death()
        except REDIS_DOWN as error:
            logger.warning("worker %s: exiting without deregistering, Redis unavailable (%s)", self.name, error)

    def unsubscribe(self) -> None:
        try:
            super().unsubscribe()
        except REDIS_DOWN as error:
            logger.debug("worker %s: could not unsubscribe, Redis unavailable (%s)", self.name, error)

    def _pubsub_exception_handler(self, exc, pubsub, pubsub_thread) -> None:
        # rq logs an error here every 2 s of an outage; the main loop already logs the outage once.
        if isinstance(exc, REDIS_DOWN):
            time.sleep(2.0)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
