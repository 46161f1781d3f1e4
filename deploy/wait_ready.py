"""Wait on a host until Gunicorn serves `--revision` and /api/ready answers 200.

Run by `fab deploy` on the host, from the checkout, with its venv's Python:
Gunicorn binds to the host's loopback or a unix socket, which the deploying
machine cannot reach. The address is GUNICORN_BIND from the environment or the
checkout's .env, as gunicorn.conf.py reads it. Exit 0 when ready, 1 otherwise.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import time
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def connection(bind: str, timeout: float = 2.0) -> http.client.HTTPConnection:
    if bind.startswith("unix:"):
        return UnixHTTPConnection(bind[len("unix:") :], timeout)
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def probe_headers() -> dict[str, str]:
    """Ask as nginx does: for a served host name, over HTTPS as far as Django can tell.

    This script stands where nginx stands (on the host, in front of Gunicorn), so it
    says what nginx says: without a Host from ALLOWED_HOSTS Django answers 400, and
    on master SECURE_SSL_REDIRECT would answer /api/version with a redirect.
    """
    names = [name.strip() for name in os.environ.get("ALLOWED_HOSTS", "").split(",") if name.strip()]
    headers = {"Connection": "close", "X-Forwarded-Proto": "https"}
    if names and names[0] != "*":
        headers["Host"] = names[0].lstrip(".")
    return headers


def get(bind: str, path: str) -> tuple[int, dict]:
    conn = connection(bind)
    try:
        conn.request("GET", path, headers=probe_headers())
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, {}
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--revision", required=True)
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--streak", type=int, default=5, help="consecutive good answers required")
    args = parser.parse_args()
    load_dotenv(ROOT / ".env", override=False)
    bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")[0].strip()
    deadline = time.monotonic() + args.timeout
    streak, last = 0, "no answer yet"
    while time.monotonic() < deadline:
        try:
            status, body = get(bind, "/api/version")
            revision = body.get("revision", "")
            if status == 200 and revision == args.revision:
                status, body = get(bind, "/api/ready")
                streak = streak + 1 if status == 200 else 0
                last = f"/api/ready answered {status}: {body.get('error', body)}"
            else:
                streak = 0
                last = f"/api/version answered {status} with revision {revision[:12] or '?'}"
        except OSError as error:
            streak, last = 0, f"{bind}: {error}"
        if streak >= args.streak:
            print(f"ready: {bind} serves {args.revision[:12]} and /api/ready answers 200")
            return 0
        time.sleep(0.5)
    print(f"not ready after {args.timeout:g}s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
