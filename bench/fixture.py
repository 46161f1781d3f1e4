"""The bench run's own data: two MariaDB databases, one Redis database index, seeded; removed at the end.

Nothing outside what this run created is touched: the databases are named
`bench_<run id>`, and the Redis index is claimed with the same protocol the
test suite uses (tests/isolation.py), only when it is empty, and flushed and
released at the end.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pymysql
import redis

ROOT = Path(__file__).resolve().parent.parent
REDIS_BASE = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
MYSQL = {"host": os.environ.get("BENCH_DB_HOST", "127.0.0.1"), "port": 3306, "user": "root", "password": ""}
CLAIM_PREFIX = "miniprogram-tests:claim:"  # shared with tests/isolation.py so the two never collide


def exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGINT end the run through its `finally`, which drops the databases and releases Redis.

    Python's default SIGTERM exits at once, and a job started in the background
    by a non-interactive shell ignores SIGINT: either way the data stayed behind.
    """

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


class BenchData:
    def __init__(self, run_id: str, run_dir: Path) -> None:
        self.run_id = run_id
        self.secret_key = secrets.token_urlsafe(48)
        self.run_dir = run_dir
        self.db_name = f"bench_{run_id}"
        self.admin_db_name = f"bench_{run_id}_admin"
        self.redis_index: int | None = None
        self._created: list[str] = []
        self.seed: dict = {}

    # --- lifecycle ------------------------------------------------------------
    def create(self, size: str) -> dict:
        self._create_databases()
        self._claim_redis()
        self._manage("migrate_all", "--verbosity", "0")
        out = subprocess.run(
            [sys.executable, "-m", "bench.seed", "--size", size],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"seeding failed:\n{out.stdout}\n{out.stderr}")
        self.seed = json.loads(out.stdout.strip().splitlines()[-1])
        return self.seed

    def destroy(self) -> None:
        if self._created:
            conn = pymysql.connect(**MYSQL)
            try:
                with conn.cursor() as cur:
                    for name in self._created:
                        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            finally:
                conn.close()
            self._created.clear()
        if self.redis_index is not None:
            redis.Redis.from_url(f"{REDIS_BASE}/{self.redis_index}").flushdb()
            lock = redis.Redis.from_url(f"{REDIS_BASE}/0")
            key = f"{CLAIM_PREFIX}{self.redis_index}"
            if lock.get(key) == self.run_id.encode():
                lock.delete(key)
            self.redis_index = None

    # --- environment for every process of the run ----------------------------------
    def env(self, **extra: str) -> dict:
        env = dict(os.environ)
        for var in ("PYTEST_CURRENT_TEST", "SENTRY_DSN", "RQ_REDIS_URL"):
            env.pop(var, None)
        env.update(
            DJANGO_SETTINGS_MODULE="project.settings_test",
            DB_NAME=self.db_name,
            ADMIN_DB_NAME=self.admin_db_name,
            DB_HOST=MYSQL["host"],
            ADMIN_DB_HOST=MYSQL["host"],
            DB_SSL_DISABLED="1",
            REDIS_URL=f"{REDIS_BASE}/{self.redis_index}",
            CACHE_KEY_PREFIX=f"b{self.run_id}",
            LOG_DIR=str(self.run_dir / "logs"),
            LOG_LEVEL="WARNING",
            PYTHONPATH=str(ROOT),
            BENCH_RUN_DIR=str(self.run_dir),
            PROBES_ENABLED="1",  # the json and db_redis cases measure them
            SECRET_KEY=self.secret_key,  # settings_test requires a strong one of its own
        )
        env.update(extra)
        return env

    # --- parts -------------------------------------------------------------------
    def _create_databases(self) -> None:
        conn = pymysql.connect(**MYSQL)
        try:
            with conn.cursor() as cur:
                for name in (self.db_name, self.admin_db_name):
                    cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                    self._created.append(name)
        finally:
            conn.close()

    def _claim_redis(self) -> None:
        lock = redis.Redis.from_url(f"{REDIS_BASE}/0")
        for index in range(15, 0, -1):  # from the top: the tests claim from the bottom
            key = f"{CLAIM_PREFIX}{index}"
            if not lock.set(key, self.run_id, nx=True, ex=3 * 3600):
                continue
            if redis.Redis.from_url(f"{REDIS_BASE}/{index}").dbsize() == 0:
                self.redis_index = index
                return
            lock.delete(key)
        raise RuntimeError("no empty Redis database index (1-15) is free")

    def _manage(self, *args: str) -> None:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


def new_run_dir(base: Path | None = None) -> Path:
    return Path(tempfile.mkdtemp(prefix="mp-bench-", dir=base))
