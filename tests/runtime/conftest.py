"""One Supervisor stack (supervisord_test.conf, from a copy of the checkout) for this package."""

import subprocess
import time

import pytest
import requests

from tests.runtime.stack import copy_checkout, stop_supervisord, wait_all_running
from tests.support import free_port, subprocess_env, wait_for_http

CONF = "supervisord_test.conf"
# Few Gunicorn workers and a small pool keep the 2-core machine usable; the
# bound checked is workers x pool, whatever the numbers.
WORKERS = 3
POOL = 5


class Stack:
    def __init__(self, checkout, env, port):
        self.checkout = checkout
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workers = WORKERS
        self.pool = POOL

    def log(self, name: str):
        return self.checkout / "logs" / name


@pytest.fixture(scope="package")
def stack(tmp_path_factory, django_db_setup, django_db_blocker):
    checkout = copy_checkout(tmp_path_factory.mktemp("stack") / "app")
    port = free_port()
    with django_db_blocker.unblock():
        env = subprocess_env(
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_WORKERS=WORKERS,
            DB_POOL_SIZE=POOL,
            DB_POOL_TIMEOUT=5,
            PYTHONPATH=checkout,
            PROBES_ENABLED=1,  # the load tests aim at /api/health/db
        )
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the conf names it
    started = time.monotonic()
    subprocess.run(
        [str(checkout / ".venv/bin/supervisord"), "-c", str(checkout / CONF)],
        cwd=checkout,
        env=env,
        check=True,
        timeout=30,
    )
    stack = Stack(checkout, env, port)
    try:
        try:
            wait_for_http(f"{stack.url}/api/ready", timeout=60)
        except TimeoutError as error:
            answer = requests.get(f"{stack.url}/api/ready", timeout=5).text
            raise TimeoutError(f"{error}; /api/ready says {answer}") from None
        stack.boot_seconds = time.monotonic() - started
        yield stack
    finally:
        stop_supervisord(checkout, CONF, env, "pids/supervisord-test.pid")


@pytest.fixture
def running_stack(stack):
    """The stack with all 13 programs RUNNING (waits out restarts of a previous test)."""
    wait_all_running(stack.checkout, CONF, stack.env, count=13, timeout=90)
    return stack
