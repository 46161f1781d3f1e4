"""Fixtures for the job tests: real `manage.py rqworker` processes, the Sentry stand-in."""

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import django_rq
import pytest
import requests
from rq import Worker

from devtools import sentry_standin
from tests.servers import PrivateRedis
from tests.support import PROJECT_ROOT, PYTHON, stop_process, subprocess_env

QUEUES = ["high", "default", "low"]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, step: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def redis_conn():
    return django_rq.get_connection("default")


@pytest.fixture
def key():
    """A fresh Redis key prefix for one test's sample jobs."""
    return f"t:{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sentry():
    server = sentry_standin.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def sentry_events(server) -> list[dict]:
    host, port = server.server_address[:2]
    return requests.get(f"http://{host}:{port}/__standin__/events", timeout=5).json()


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log: Path):
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(tmp_path, redis_conn, django_db_setup):
    """Start `manage.py rqworker high default low` (SentryWorker) and wait until it is registered."""
    started: list[WorkerProcess] = []

    def start(*extra_args: str, connection=None, **env_overrides) -> WorkerProcess:
        env = subprocess_env(**{"WECHAT_API_BASE": "http://127.0.0.1:9", **env_overrides})
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [PYTHON, "manage.py", "rqworker", *QUEUES, *extra_args],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        conn = connection or redis_conn

        def registered():
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{worker.output()}")
            return any(w.pid == process.pid for w in Worker.all(connection=conn))

        wait_until(registered, 30, "the worker to register in Redis")
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            worker.signal(signal.SIGTERM)
        stop_process(worker.process, timeout=15)


@pytest.fixture
def start_scheduler(tmp_path, redis_conn, django_db_setup):
    """Start `manage.py run_scheduler`; its rq.log is in its own LOG_DIR. Leaves no schedule behind."""
    started: list[WorkerProcess] = []

    def start(**env_overrides) -> WorkerProcess:
        log_dir = tmp_path / f"scheduler-{len(started)}"
        env = subprocess_env(**{"WECHAT_API_BASE": "http://127.0.0.1:9", "LOG_DIR": log_dir, **env_overrides})
        process = subprocess.Popen(
            [PYTHON, "manage.py", "run_scheduler"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        scheduler = WorkerProcess(process, log_dir / "rq.log")
        started.append(scheduler)

        def running():
            if process.poll() is not None:
                raise AssertionError(f"scheduler exited with {process.returncode}")
            return scheduler.log.exists() and "started, checking every" in scheduler.output()

        wait_until(running, 30, "the scheduler to start")
        return scheduler

    yield start
    for scheduler in started:
        if scheduler.process.poll() is None:
            scheduler.signal(signal.SIGTERM)
        stop_process(scheduler.process, timeout=15)
    from rq_scheduler import Scheduler

    redis_conn.delete(Scheduler.scheduled_jobs_key)
    for name in QUEUES:
        django_rq.get_queue(name).empty()


@pytest.fixture
def wechat():
    """The WeChat stand-in (devtools.wechat_standin) on a free port, in this process; its base URL."""
    import threading

    from devtools import wechat_standin
    from tests.support import free_port

    port = free_port()
    server = wechat_standin.make_server(port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    requests.post(f"{base}/__standin__/reset", timeout=5)
    _forget_access_tokens()  # tokens of an earlier stand-in mean nothing to this one
    yield base
    server.shutdown()
    server.server_close()


def _forget_access_tokens() -> None:
    from django.conf import settings
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    for token_key in redis.scan_iter(f"{settings.CACHE_KEY_PREFIX}:wechat:access_token:*"):
        redis.delete(token_key)


def wechat_calls(base: str, path: str) -> list[dict]:
    return [call for call in requests.get(f"{base}/__standin__/calls", timeout=5).json() if call.get("path") == path]


@pytest.fixture
def people(db):
    """A mini-program, a user with an API token, and a board of theirs."""
    from apps.accounts.models import MiniProgram, WxUser
    from apps.accounts.services import issue_token
    from apps.boards.models import Board

    program = MiniProgram.objects.create(appid="wxjobs00000000001", name="jobs", secret="s3cret")
    user = WxUser.objects.create(mini_program=program, openid="o-jobs-author", nickname="A")
    board = Board.objects.create(mini_program=program, owner=user, title="Jobs board")
    raw_token, _ = issue_token(user)
    return {"program": program, "user": user, "board": board, "auth": f"Bearer {raw_token}"}


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
