"""Gunicorn's worker class (corelib.gunicorn_worker): keep-alive connections round robin, one send per answer.

A client that always has its next request waiting (here: 200 pipelined on one
connection) must not hold the worker until it is done: a request arriving on
another connection meanwhile is answered after a few of the busy client's, not
after all of them. The stock gevent worker is the control: it starves the
second connection, which is what shows as seconds of p99 under wrk.

Each answer's head and body leave in one send (corelib.gunicorn_response), so
a small answer reaches the client as one TCP segment where the stock worker
sends two; the client's own TCP counters show it. Every kind of answer (a
body, none, HEAD, chunked, a file) still arrives whole on a reused connection.
"""

import http.client
import socket
import struct
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
KINDS_APP = """
import os

BODY = b'{"ok": true}'
FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "served.bin")


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"first,", b"second"])
    if path == "/file":
        size = os.path.getsize(FILE)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](open(FILE, "rb"))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""
FILE_BYTES = bytes(range(256)) * 400
# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, segments that carried data, is the u32 at byte 152.
TCPI_DATA_SEGS_IN = 152


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
    processes = []

    def start(worker_class: str, app: str = APP) -> int:
        (tmp_path / "tinyapp.py").write_text(app)
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


def data_segments_received(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, TCPI_DATA_SEGS_IN)[0]


def segments_for_answers(port: int, answers: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(answers):
            connection.request("GET", "/")
            response = connection.getresponse()
            assert response.status == 200 and response.read() == b'{"ok": true}'
        return data_segments_received(connection.sock)
    finally:
        connection.close()


def test_the_project_worker_sends_each_small_answer_as_one_segment(serve):
    port = serve("corelib.gunicorn_worker.FairGeventWorker")
    assert segments_for_answers(port, 20) == 20


def test_control_the_stock_gevent_worker_sends_head_and_body_apart(serve):
    port = serve("gevent")
    assert segments_for_answers(port, 20) >= 30


def test_every_kind_of_answer_arrives_whole_on_one_reused_connection(serve, tmp_path: Path):
    (tmp_path / "served.bin").write_bytes(FILE_BYTES)
    port = serve("corelib.gunicorn_worker.FairGeventWorker", KINDS_APP)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.connect()
        first_socket = connection.sock
        expected = [
            ("GET", "/", 200, b'{"ok": true}'),
            ("GET", "/empty", 204, b""),
            ("HEAD", "/", 200, b""),
            ("GET", "/stream", 200, b"first,second"),
            ("GET", "/file", 200, FILE_BYTES),
            ("GET", "/", 200, b'{"ok": true}'),
        ]
        for method, path, status, body in expected:
            connection.request(method, path)
            response = connection.getresponse()
            assert (method, path, response.status, response.read()) == (method, path, status, body)
            if method == "HEAD":
                assert response.getheader("Content-Length") == "12"
            if path == "/stream":
                assert response.getheader("Transfer-Encoding") == "chunked"
        assert connection.sock is first_socket, "the connection was not kept alive across the answers"
    finally:
        connection.close()
