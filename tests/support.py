"""Helpers for tests that start real processes and servers on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_for_http(url: str, timeout: float = 20.0, status: int = 200) -> requests.Response:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=1)
            if last.status_code == status:
                return last
        except requests.RequestException as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last: {last!r})")


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def subprocess_env(**overrides) -> dict:
    """The environment a subprocess of the tests gets: this run's databases and Redis.

    Call it inside a test that uses the database, so the names are the test databases'.
    """
    from django.db import connections

    env = dict(os.environ)
    env["DB_NAME"] = connections["default"].settings_dict["NAME"]
    env["ADMIN_DB_NAME"] = connections["admin"].settings_dict["NAME"]
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update({key: str(value) for key, value in overrides.items()})
    return env


def wait_until(predicate, timeout: float, what: str, step: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
