"""The WeChat stand-in (devtools.wechat_standin) as the login and slow-upstream cases run it.

The same endpoints, answers and errcodes (its route functions are reused), served
from one gevent event loop instead of stdlib's thread-per-connection server, so
that it holds thousands of calls at once: WeChat's API is 30-150 ms away from a
mainland cloud, and a case that measures a service waiting on it must not be
capped by the stand-in itself. Two bench-only differences:

- any code starting with `bench-` is valid once: the load generator cannot mint
  codes over HTTP at thousands a second. Each code maps to one of the seeded
  users' openids (returning users) or, for one in ten, a new one (first logins),
  as real traffic mixes them;
- every WeChat API call waits `--delay-ms` before it answers (0: at once), on
  the event loop, so a wait holds no thread. `POST /__standin__/delay {"ms": N}`
  changes it while the stand-in runs (the bench sets it per case).

    python -m bench.wechat_bench --port PORT --appid APPID --users N [--delay-ms MS]

`GET /__standin__/stats` answers the calls served and the most in flight at once.
"""

import argparse
import json
import socket
import zlib
from urllib.parse import parse_qs

import gevent
from gevent.pywsgi import WSGIServer

from devtools import wechat_standin

ADMIN = wechat_standin.ADMIN
BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


class BenchCodes(dict):
    def __init__(self, appid: str, users: int) -> None:
        super().__init__()
        self.appid = appid
        self.users = users

    def get(self, code, default=None):
        if code.startswith("bench-") and code not in wechat_standin.STATE.used:
            n = zlib.crc32(code.encode())
            openid = f"o-bench-{n % self.users:08d}" if n % 10 else f"o-new-{code}"
            return {"appid": self.appid, "openid": openid, "unionid": "", "session_key": f"sk-{n:x}"}
        return super().get(code, default)

    def __delitem__(self, code) -> None:
        self.pop(code, None)


class Upstream:
    """The stand-in's delay and counters (one event loop: no lock needed)."""

    def __init__(self, delay_ms: float) -> None:
        self.delay_ms = delay_ms
        self.served = 0
        self.in_flight = 0
        self.peak_in_flight = 0


def _answer(start_response, status: int, body: dict | list) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
    headers = [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {reason}", headers)  # a length, not chunks: one write per answer
    return [data]


def _body(environ) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def make_app(upstream: Upstream):
    def app(environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        body = _body(environ)
        if path.startswith(ADMIN):
            return _admin(upstream, start_response, method, path[len(ADMIN) :].strip("/"), body)
        route = wechat_standin.ROUTES.get((method, path))
        if route is None:
            return _answer(start_response, 404, {"errcode": 404, "errmsg": "no such api in the stand-in"})
        query = {key: values[-1] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        upstream.in_flight += 1
        upstream.peak_in_flight = max(upstream.peak_in_flight, upstream.in_flight)
        try:
            if upstream.delay_ms:
                gevent.sleep(upstream.delay_ms / 1000)
            answer = route(query, body)
        finally:
            upstream.in_flight -= 1
        upstream.served += 1
        return _answer(start_response, 200, answer)

    return app


def _admin(upstream: Upstream, start_response, method: str, name: str, body: dict) -> list[bytes]:
    if name == "delay" and method == "POST":
        upstream.delay_ms = float(body.get("ms") or 0)
        return _answer(start_response, 200, {"ms": upstream.delay_ms})
    if name == "stats" and method == "GET":
        stats = {"delay_ms": upstream.delay_ms, "served": upstream.served, "peak_in_flight": upstream.peak_in_flight}
        upstream.peak_in_flight = upstream.in_flight
        return _answer(start_response, 200, stats)
    return _answer(start_response, 404, {"error": f"unknown admin call {method} {name}"})


class NoDelayServer(WSGIServer):
    """Answers leave at once: without TCP_NODELAY a keep-alive client's delayed ACK held some 40 ms each."""

    def handle(self, sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="each WeChat API call waits this long first")
    args = parser.parse_args()
    wechat_standin.STATE.codes = BenchCodes(args.appid, args.users)
    wechat_standin.STATE.calls = _NoList()
    server = NoDelayServer(("127.0.0.1", args.port), make_app(Upstream(args.delay_ms)), backlog=BACKLOG, log=None)
    server.serve_forever()


class _NoList(list):
    """The stand-in records every call for tests; the bench would only grow memory with it."""

    def append(self, item) -> None:
        pass


if __name__ == "__main__":
    main()
