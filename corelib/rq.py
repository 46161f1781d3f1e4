"""The worker class of every `manage.py rqworker` (settings.RQ['WORKER_CLASS'])."""

from rq import Worker


class SentryWorker(Worker):
    log_result_lifespan = False
