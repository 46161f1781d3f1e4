"""Over real HTTP to Gunicorn's gevent worker: a body over the limit is refused before it is sent whole."""

import json
import socket

import pytest
import requests

from apps.boards.models import Board
from tests.api.conftest import APP_A
from tests.api.gunicorn_server import gunicorn
from tests.support import subprocess_env

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

LIMIT = 4096


@pytest.fixture(scope="module")
def server(django_db_setup, standin_process):
    env = subprocess_env(WECHAT_API_BASE=standin_process.base, REQUEST_BODY_MAX_BYTES=LIMIT)
    with gunicorn(env) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture
def token(server, standin, mini_programs) -> str:
    code = standin.mint(APP_A[0])["code"]
    response = requests.post(
        f"http://127.0.0.1:{server}/api/v1/auth/login", json={"appid": APP_A[0], "code": code}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["token"]


def exchange(port: int, head: str, body_parts: list[bytes]) -> tuple[int, dict]:
    """Send a request head and body parts; read the answer (the server may answer before the body is in)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.split(b"\r\n\r\n", 1)[1][: _length(answer)]
    return int(status_line.split()[1]), json.loads(body)


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 1 << 30


def head(port: int, token: str, framing: str) -> str:
    return (
        f"POST /api/v1/boards HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n"
    )


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server, token):
    # 100 MB announced, only the first kilobyte sent: the answer comes anyway.
    status, body = exchange(server, head(server, token, "Content-Length: 100000000\r\n"), [b"{" + b" " * 1000])

    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert Board.objects.count() == 0


def test_a_chunked_body_over_the_limit_is_a_413(server, token):
    chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
    status, body = exchange(server, head(server, token, "Transfer-Encoding: chunked\r\n"), [chunk] * 4 + [b"0\r\n\r\n"])

    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert Board.objects.count() == 0


def test_a_chunked_body_under_the_limit_is_served(server, token):
    payload = json.dumps({"title": "sent in chunks"}).encode()
    chunks = [f"{len(payload):x}\r\n".encode() + payload + b"\r\n", b"0\r\n\r\n"]
    status, body = exchange(server, head(server, token, "Transfer-Encoding: chunked\r\n"), chunks)

    assert status == 201, body
    assert Board.objects.get().title == "sent in chunks"


def test_an_unknown_host_is_refused_over_http(server, token):
    response = requests.post(
        f"http://127.0.0.1:{server}/api/v1/boards",
        json={"title": "t"},
        headers={"Authorization": f"Bearer {token}", "Host": "evil.example.com"},
        timeout=10,
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_host"
    assert Board.objects.count() == 0


def test_a_request_line_over_the_limit_gets_414_in_the_error_shape(server):
    answer = requests.get(f"http://127.0.0.1:{server}/api/v1/boards/1/messages?cursor={'9' * 9000}", timeout=10)

    assert answer.status_code == 414
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"]["code"] == "request_line_too_long"


def test_headers_over_the_limit_get_431_in_the_error_shape(server):
    too_many = {f"X-Filler-{n}": "x" for n in range(120)}  # Gunicorn reads at most 100 header fields

    answer = requests.get(f"http://127.0.0.1:{server}/api/health", headers=too_many, timeout=10)

    assert answer.status_code == 431
    assert answer.json()["error"] == {
        "code": "headers_too_large",
        "message": "The request headers are too large.",
        "field": None,
    }
