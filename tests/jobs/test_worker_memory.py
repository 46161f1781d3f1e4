"""An RQ worker loads only what jobs use, and its work horses copy little of it."""

import django_rq
from rq.job import Job, JobStatus

from tests.jobs.conftest import wait_until

# Measured with this job: 28 MB private after the collection when nothing is frozen, 6.3 MB frozen.
HORSE_PRIVATE_LIMIT_KB = 15 * 1024


def _run(redis_conn, func: str, *args) -> object:
    job = django_rq.get_queue("default").enqueue(func, *args)
    fetched = wait_until(
        lambda: (j := Job.fetch(job.id, connection=redis_conn)).get_status() in (JobStatus.FINISHED, JobStatus.FAILED)
        and j,
        60,
        f"{func} to finish",
    )
    assert fetched.get_status() == JobStatus.FINISHED, fetched.exc_info
    return fetched.return_value()


def test_a_work_horse_keeps_sharing_the_workers_memory_through_a_full_collection(start_worker, redis_conn):
    start_worker()
    _run(redis_conn, "tests.jobs.sample_jobs.count", "t:warm")  # the first fork freezes start-up's objects

    private_kb = _run(redis_conn, "tests.jobs.sample_jobs.private_memory_after_full_collection")

    assert private_kb < HORSE_PRIVATE_LIMIT_KB, f"work horse copied {private_kb / 1024:.1f} MB"


def test_a_worker_has_not_imported_the_api_the_urlconf_or_gevent(start_worker, redis_conn):
    start_worker()

    unused = ["ninja", "pydantic", "project.urls", "project.api", "gevent"]
    assert _run(redis_conn, "tests.jobs.sample_jobs.loaded_modules", unused) == []
