"""A private MariaDB and a private Redis for fault tests: own ports, own data directories, stopped at will.

The machine's shared MariaDB and Redis are never touched: these run as
children of the test, on free ports, with their data under the test's tmp dir.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pymysql

from tests.support import free_port, stop_process, wait_for_port


def _binary(name: str, *fallbacks: str) -> str:
    for candidate in (name, *fallbacks):
        found = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if found:
            return found
    raise FileNotFoundError(f"{name} is not installed")


class PrivateMariaDB:
    """mariadbd on a free port with a fresh data directory; root with no password, loopback only."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.datadir = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def install(self) -> None:
        subprocess.run(
            [
                _binary("mariadb-install-db", "/usr/bin/mariadb-install-db"),
                "--no-defaults",  # the machine's my.cnf forces user=mysql and its own datadir
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                _binary("mariadbd", "/usr/sbin/mariadbd"),
                "--no-defaults",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.directory / 'mariadb.sock'}",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--max-connections=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "mariadb.log").open("ab"),
        )
        self.wait_answering(timeout=60)

    def wait_answering(self, timeout: float) -> float:
        """Seconds until a query succeeds."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            try:
                self.connect().close()
                return time.monotonic() - started
            # Not pymysql.err.OperationalError: once Django installed PyMySQL as MySQLdb, the
            # connection may raise the same class from the module's second name.
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=60)
            self.process = None

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(
            host="127.0.0.1", port=self.port, user="root", password="", database=database, connect_timeout=2
        )

    def query(self, database: str, sql: str, args=None) -> list[tuple]:
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()


class PrivateRedis:
    """redis-server on a free port, no persistence: a restart loses every key."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_binary("redis-server", "/usr/bin/redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None
