"""The worker class of every `manage.py rqworker` (settings.RQ['WORKER_CLASS']).

What plain rq misses for the way this service is run:

- Supervisor reloads everything with `signal HUP all`, and rq dies on SIGHUP at
  once (leaving its registration and possibly a half-done job). Here every HUP
  is a warm shutdown: finish the job, deregister, exit 0 so Supervisor starts
  the new code. A reload never escalates (HUPs may come 0.5 s apart); only a
  second TERM or INT is a cold shutdown. A HUP that arrives while the process
  is still starting waits (corelib.hangup) and stops it before its first job.
- rq stops an idle worker by raising from the signal handler, wherever the
  main loop is: just after BLPOP took a job, that job would be lost. Here the
  handler only sets a flag, and the worker blocks on its queues in slices of
  STOP_CHECK_SECONDS, so an idle worker still exits within about a second.
- A name given with --name gets the process id appended: a worker killed
  without deregistering cannot block its successor ("There exists an active
  worker named ...").
- Sentry: every event from a job carries queue, job id, function and worker
  name (the environment is the event's own field). The integration misses a
  work horse killed by a signal and a job abandoned by a dead worker; both are
  reported here, each once, by the one process that handles it.
- Job start, end and failure go to the RQ log with their duration.
- A Redis outage of any length is waited out, not a reason to exit
  (corelib.rq_reconnect).
"""

import gc
import logging
import os
import signal
import time

import sentry_sdk
from rq import Worker
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.queue import Queue
from rq.utils import now
from rq.worker import WorkerStatus
from rq.worker.base import signal_name

from corelib.hangup import accept_hangup, finish_exit
from corelib.rq_reconnect import RidesOutRedisOutages

logger = logging.getLogger("corelib.rq")
# How long an idle worker blocks on its queues before it looks at a stop request again.
STOP_CHECK_SECONDS = 1


def job_tags(job: Job, queue_name: str, worker_name: str) -> dict[str, str]:
    """The Sentry tags of an event about `job`."""
    try:
        func = job.func_name
    except Exception:  # a job that cannot be deserialised still gets tagged
        func = "<unreadable>"
    return {"queue": queue_name, "job_id": job.id, "job_func": (func or "")[:200], "worker": worker_name}


def capture_job_problem(message: str, job: Job, queue_name: str, worker_name: str) -> None:
    """One Sentry event about a job that died outside the integration's reach."""
    with sentry_sdk.new_scope() as scope:
        scope.set_tags(job_tags(job, queue_name, worker_name))
        scope.set_level("error")
        scope.fingerprint = ["rq", message.split(":", 1)[0], job_tags(job, queue_name, worker_name)["job_func"]]
        sentry_sdk.capture_message(message)
    sentry_sdk.flush(timeout=5)


class SentryWorker(RidesOutRedisOutages, Worker):
    log_result_lifespan = False
    _start_up_frozen = False

    def __init__(self, *args, name: str | None = None, **kwargs):
        if name:
            name = f"{name}.{os.getpid()}"
        super().__init__(*args, **{**kwargs, "name": name})
        self.push_exc_handler(self.report_abandoned_job)

    # --- signals -------------------------------------------------------------
    def bootstrap(self, *args, **kwargs) -> None:
        # rq installs its handlers only after registering in Redis; a HUP in between would kill
        # the worker and leave its registration behind. Until then a signal just asks it to stop.
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_before_work)
        accept_hangup()  # a HUP held since manage.py started lands here
        super().bootstrap(*args, **kwargs)

    def _stop_before_work(self, signum, frame) -> None:
        logger.info("worker %s: %s while starting; exiting before taking a job", self.name, signal_name(signum))
        self._stop_requested = True
        self._shutdown_requested_date = now()

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        signal.signal(signal.SIGHUP, self.request_stop)

    def request_stop(self, signum, frame) -> None:
        # Every later HUP is the same reload again: never a cold shutdown.
        signal.signal(signal.SIGHUP, self._already_stopping)
        super().request_stop(signum, frame)

    def _already_stopping(self, signum, frame) -> None:
        logger.info("worker %s: HUP again; already stopping after the current job", self.name)

    def _shutdown(self) -> None:
        if self.get_state() == WorkerStatus.BUSY:
            super()._shutdown()  # rq's own: flag it, record the date; the main loop waits on the horse
            return
        # rq raises StopRequested here when idle, wherever the main loop is (see the module docstring).
        # Only the flag: the main loop may be inside BLPOP on the worker's Redis connection, and a
        # Redis call from this handler would interleave with it on that connection and hang the worker.
        self._stop_requested = True

    def handle_warm_shutdown_request(self) -> None:
        logger.info("worker %s: warm shutdown requested; a second TERM is a cold shutdown", self.name)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        if timeout is None or max_idle_time is not None:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while True:
            # rq returns None once idle for max_idle_time: a moment to look at the stop flag.
            result = super().dequeue_job_and_maintain_ttl(STOP_CHECK_SECONDS, max_idle_time=STOP_CHECK_SECONDS)
            if result is not None or self._stop_requested:
                return result  # a job already taken is run, even when a stop came meanwhile

    def work(self, *args, **kwargs) -> bool:
        worked = super().work(*args, **kwargs)
        sentry_sdk.flush(timeout=5)
        finish_exit()  # under Supervisor: exit 0 here, without Python's slow shutdown
        return worked

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        # A work horse shares the worker's objects copy-on-write, but a full collection in the horse
        # writes to every object it tracks and so copies their pages: 28 MB per horse, 6 MB with the
        # objects alive at start-up frozen (tests/jobs/test_worker_memory.py). Frozen once, before the
        # first fork, after a collection so that no garbage is frozen with them.
        if not self._start_up_frozen:
            gc.collect()
            gc.freeze()
            self._start_up_frozen = True
        super().fork_work_horse(job, queue)

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()
        # The horse has its own process group; a stray HUP must not cut a job short.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    # --- jobs ------------------------------------------------------------------
    def perform_job(self, job: Job, queue: Queue, execution) -> bool:
        """Runs in the work horse: tag Sentry events, log start, end and duration."""
        tags = job_tags(job, queue.name, self.name)
        logger.info("job %s %s started on queue %s", job.id, tags["job_func"], queue.name)
        started = time.monotonic()
        with sentry_sdk.isolation_scope() as scope:
            scope.set_tags(tags)
            ok = super().perform_job(job, queue, execution)
        duration = time.monotonic() - started
        if ok:
            logger.info("job %s %s finished in %.3fs", job.id, tags["job_func"], duration)
        else:
            retries = job.retries_left or 0
            logger.error(
                "job %s %s failed after %.3fs (%s)",
                job.id,
                tags["job_func"],
                duration,
                f"will be retried, {retries} retries left" if retries else "moved to the failed registry",
            )
        return ok

    def handle_work_horse_killed(self, job: Job, retpid, ret_val, rusage) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        signal_note = f" by signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else ""
        retries = job.retries_left or 0
        outcome = f"it will be retried ({retries} left)" if retries else "it is moved to the failed registry"
        logger.error("job %s %s: work horse killed%s; %s", job.id, job.func_name, signal_note, outcome)
        capture_job_problem(
            f"Work horse killed{signal_note} while running {job.func_name}; {outcome}", job, job.origin, self.name
        )

    def report_abandoned_job(self, job: Job, exc_type, exc_value, traceback) -> None:
        """Exception handler: rq calls it for a job left STARTED by a worker that died."""
        if exc_type is not AbandonedJobError:
            return None  # a job's own exception: the integration has reported it
        retries = job.retries_left or 0
        outcome = f"it will be retried ({retries} left)" if retries else "it is moved to the failed registry"
        logger.error("job %s %s abandoned by a dead worker; %s", job.id, job.func_name, outcome)
        capture_job_problem(f"Job abandoned by a dead worker: {job.func_name}; {outcome}", job, job.origin, self.name)
        return None
