"""A local stand-in for Sentry's ingestion endpoint, for tests.

    python -m devtools.sentry_standin --port 9000

Point SENTRY_DSN at `http://public@127.0.0.1:<port>/1`. It accepts envelopes
(POST /api/<project>/envelope/, gzip or plain, as sentry-sdk sends them) and
keeps every event item. Tests read them over HTTP:

    GET  /__standin__/events   [event, ...] in arrival order
    POST /__standin__/reset    forget them
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ENVELOPE = re.compile(r"^/api/(?P<project>[^/]+)/(?P<kind>envelope|store)/?$")
EVENT_TYPES = {"event", "error"}


def parse_envelope(body: bytes) -> list[tuple[dict, bytes]]:
    """[(item header, payload)] of a Sentry envelope."""
    items = []
    _, _, rest = body.partition(b"\n")  # the envelope header
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        if not header_line.strip():
            continue
        header = json.loads(header_line)
        length = header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length + 1 :]
        items.append((header, payload))
    return items


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # only if the sdk found brotli installed

        return brotli.decompress(body)
    return body


class Handler(BaseHTTPRequestHandler):
    server: StandinServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        return

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.rstrip("/") == "/__standin__/events":
            with self.server.lock:
                return self._send(200, list(self.server.events))
        self._send(404, {"detail": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = _decode(self.rfile.read(length), (self.headers.get("Content-Encoding") or "").lower())
        if self.path.rstrip("/") == "/__standin__/reset":
            with self.server.lock:
                self.server.events.clear()
            return self._send(200, {"ok": True})
        match = _ENVELOPE.match(self.path.split("?", 1)[0])
        if not match:
            return self._send(404, {"detail": "not found"})
        if match["kind"] == "store":
            events = [json.loads(body)]
        else:
            events = [
                json.loads(payload) for header, payload in parse_envelope(body) if header.get("type") in EVENT_TYPES
            ]
        with self.server.lock:
            self.server.events.extend(events)
        self._send(200, {"id": events[0].get("event_id") if events else None})


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address):
        super().__init__(address, Handler)
        self.lock = threading.Lock()
        self.events: list[dict] = []

    def dsn(self, project: int = 1) -> str:
        host, port = self.server_address[:2]
        return f"http://public@{host}:{port}/{project}"


def start_in_thread(port: int = 0, host: str = "127.0.0.1") -> StandinServer:
    """Serve in a daemon thread; call `.shutdown()` to stop."""
    server = StandinServer((host, port))
    threading.Thread(target=server.serve_forever, name="sentry-standin", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--host", default="127.0.0.1")
    options = parser.parse_args(argv)
    server = StandinServer((options.host, options.port))
    print(f"Sentry stand-in on {server.dsn()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
