"""Gunicorn's worker class serves keep-alive connections round robin (corelib.gunicorn_worker).

A client that always has its next request waiting (here: 200 pipelined on one
connection) must not hold the worker until it is done: a request arriving on
another connection meanwhile is answered after a few of the busy client's, not
after all of them. The stock gevent worker is the control: it starves the
second connection, which is what shows as seconds of p99 under wrk.
"""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_port

PIPELINED = 200
APP = """
def application(environ, start_response):
    body = b'{"ok": true}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""
REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"


def answers_in(data: bytes) -> int:
    return data.count(b"HTTP/1.1 200 OK")


def busy_client_answers_before_the_other_one(port: int) -> int:
    busy = socket.create_connection(("127.0.0.1", port), timeout=10)
    other = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        busy.sendall(REQUEST * PIPELINED)
        other.sendall(REQUEST)
        received = b""
        while answers_in(received) < 1:  # blocks until the second connection's answer
            chunk = other.recv(65536)
            assert chunk, "the server closed the second connection"
            received += chunk
        busy.setblocking(False)
        served = b""
        while True:
            try:
                chunk = busy.recv(1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            served += chunk
        return answers_in(served)
    finally:
        busy.close()
        other.close()


@pytest.fixture
def serve(tmp_path: Path):
    (tmp_path / "tinyapp.py").write_text(APP)
    processes = []

    def start(worker_class: str) -> int:
        port = free_port()
        argv = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--worker-class", worker_class,
            "--workers", "1",
            "--bind", f"127.0.0.1:{port}",
            "--pythonpath", f"{tmp_path},{PROJECT_ROOT}",
            "--control-socket", str(tmp_path / f"{port}.ctl"),
            "--keep-alive", "5",
            "tinyapp:application",
        ]  # fmt: skip
        process = subprocess.Popen(argv, cwd=tmp_path, env=subprocess_env(), stderr=subprocess.DEVNULL)
        processes.append(process)
        wait_for_port(port)
        return port

    yield start
    for process in processes:
        stop_process(process)


def test_the_project_worker_answers_a_second_connection_between_a_busy_ones_requests(serve):
    port = serve("corelib.gunicorn_worker.FairGeventWorker")
    n = busy_client_answers_before_the_other_one(port)
    assert n < PIPELINED // 4


def test_control_the_stock_gevent_worker_serves_the_busy_connection_first(serve):
    port = serve("gevent")
    assert busy_client_answers_before_the_other_one(port) == PIPELINED
