"""How each background job is run: its queue, timeout and retry policy.

A job function declares its policy next to its code with `@job_policy(...)`;
whoever enqueues it (the outbox, the scheduler) reads the policy from there, so
callers only name the function and its arguments.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from rq import Retry
from rq.utils import import_attribute


@dataclass(frozen=True)
class JobPolicy:
    queue: str = "default"
    timeout: int = 180  # seconds; the work horse is killed past it
    retry_max: int = 0
    retry_intervals: tuple[int, ...] = field(default_factory=tuple)  # backoff between tries, seconds
    result_ttl: int = 3600  # keep the outcome an hour for the admin pages

    def retry(self) -> Retry | None:
        if not self.retry_max:
            return None
        return Retry(max=self.retry_max, interval=list(self.retry_intervals) or 0)

    def enqueue_call_options(self) -> dict:
        """Keyword arguments for rq's `Queue.enqueue_call`."""
        return {"timeout": self.timeout, "retry": self.retry(), "result_ttl": self.result_ttl}


def job_policy(
    queue: str = "default",
    timeout: int = 180,
    retry_max: int = 0,
    retry_intervals: tuple[int, ...] = (),
    result_ttl: int = 3600,
) -> Callable:
    """Attach a JobPolicy to a job function."""
    policy = JobPolicy(queue, timeout, retry_max, tuple(retry_intervals), result_ttl)

    def decorate(func: Callable) -> Callable:
        func.job_policy = policy  # type: ignore[attr-defined]  # the policy travels with the function
        return func

    return decorate


def policy_for(func_path: str, queue: str | None = None) -> JobPolicy:
    """The declared policy of `func_path`; an undeclared function gets the defaults on `queue`."""
    declared = getattr(import_attribute(func_path), "job_policy", None)
    if declared is not None:
        return declared
    return JobPolicy(queue=queue or "default")
