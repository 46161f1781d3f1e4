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

from corelib import sentry_standin
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
        env = subprocess_env(WECHAT_API_BASE="http://127.0.0.1:9", **env_overrides)
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
