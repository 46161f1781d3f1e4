"""The whole stack (Supervisor: Gunicorn, ten RQ workers, the scheduler) on a PRIVATE MariaDB and Redis.

Used by the fault tests (tests/faults) and `make soak` (bench/soak.py), which stop,
restart and wipe these two servers; the machine's shared ones are never touched.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.runtime.stack import copy_checkout, program_states, stop_supervisord, wait_all_running
from tests.servers import PrivateMariaDB, PrivateRedis
from tests.support import PYTHON, free_port, wait_for_http

CONF = "supervisord_test.conf"
PROGRAMS = 13  # gunicorn, the RQ fork server, ten RQ workers, the scheduler
APPID, SECRET = "wxfault0000000001", "fault-secret-1"  # pragma: allowlist secret
DATABASES = ("miniprogram", "miniprogram_admin")


@dataclass
class FaultStack:
    checkout: Path
    env: dict
    url: str
    mariadb: PrivateMariaDB
    redis: PrivateRedis
    wechat: str

    def states(self) -> dict[str, str]:
        return program_states(self.checkout, CONF, self.env)

    def pids(self) -> dict[str, str]:
        """Program name -> pid, from `supervisorctl status` (a restarted program has a new pid)."""
        from tests.runtime.stack import supervisorctl

        pids = {}
        for line in supervisorctl(self.checkout, CONF, "status", env=self.env).splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[2] == "pid":
                pids[parts[0]] = parts[3].rstrip(",")
        return pids

    def wait_all_running(self, timeout: float = 120) -> None:
        wait_all_running(self.checkout, CONF, self.env, count=PROGRAMS, timeout=timeout)

    def sql(self, query: str, args=None) -> list[tuple]:
        return self.mariadb.query("miniprogram", query, args)

    def stop(self) -> None:
        stop_supervisord(self.checkout, CONF, self.env, "pids/supervisord-test.pid")
        self.redis.stop()
        self.mariadb.stop()

    def wechat_calls(self, path: str) -> list[dict]:
        calls = requests.get(f"{self.wechat}/__standin__/calls", timeout=10).json()
        return [call for call in calls if call["path"] == path]


def _manage(checkout: Path, env: dict, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=checkout, env=env, check=True, capture_output=True, timeout=300)


def start_fault_stack(root: Path, wechat: str, **env_overrides: str) -> FaultStack:
    """Private MariaDB and Redis, the schema and a mini-program, then Supervisor; waits until all run."""
    mariadb, redis = PrivateMariaDB(root / "mariadb"), PrivateRedis(root / "redis")
    (root / "mariadb").mkdir()
    (root / "redis").mkdir()
    try:
        return _start(root, wechat, mariadb, redis, env_overrides)
    except BaseException:
        redis.stop()
        mariadb.stop()
        raise


def _start(root: Path, wechat: str, mariadb: PrivateMariaDB, redis: PrivateRedis, env_overrides: dict) -> FaultStack:
    mariadb.install()
    mariadb.start()
    redis.start()
    for name in DATABASES:
        mariadb.query(None, f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    checkout = copy_checkout(root / "app")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DB_", "ADMIN_DB_", "RQ_"))}
    env.update(
        {
            "PYTHONPATH": str(checkout),
            "LOG_DIR": str(checkout / "logs"),
            "DJANGO_SETTINGS_MODULE": "project.settings_test",
            # The test environment's settings require a strong key: the suite's (tests/isolation.py), or one
            # of the stack's own when `make soak` runs it outside the suite.
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(mariadb.port),
            "DB_NAME": "miniprogram",
            "ADMIN_DB_HOST": "127.0.0.1",
            "ADMIN_DB_PORT": str(mariadb.port),
            "ADMIN_DB_NAME": "miniprogram_admin",
            "DB_SSL_DISABLED": "1",
            "DB_POOL_SIZE": "5",
            "DB_POOL_TIMEOUT": "5",
            "REDIS_URL": redis.url,
            "WECHAT_API_BASE": wechat,
            "WECHAT_MINIPROGRAMS": f"{APPID}:{SECRET}",
            "RATE_LOGIN_PER_IP": "1000000",
            "RATE_LOGIN_PER_APP": "1000000",
            "RATE_POST_PER_USER": "1000000",
            "RATE_WRITE_PER_USER": "1000000",
            "RATE_WRITE_PER_IP": "1000000",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "SCHEDULER_INTERVAL": "1",
            "OUTBOX_RELAY_INTERVAL": "2",
            "OUTBOX_REPUSH_GRACE": "1",
            **env_overrides,
        }
    )
    _manage(checkout, env, "migrate_all")
    _manage(checkout, env, "sync_miniprograms")
    env.pop("DJANGO_SETTINGS_MODULE")  # the Supervisor conf names it
    subprocess.run(
        [str(checkout / ".venv/bin/supervisord"), "-c", str(checkout / CONF)],
        cwd=checkout,
        env=env,
        check=True,
        timeout=30,
    )
    stack = FaultStack(checkout, env, f"http://127.0.0.1:{port}", mariadb, redis, wechat)
    try:
        wait_for_http(f"{stack.url}/api/ready", timeout=120)
        stack.wait_all_running()
    except BaseException:
        stop_supervisord(checkout, CONF, env, "pids/supervisord-test.pid")
        raise
    return stack
