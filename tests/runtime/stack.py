"""Run the real stack (Supervisor, Gunicorn, RQ workers) from a copy of the checkout.

A copy in a temporary directory has its own pids/, socks/ and logs/, so a
test's Supervisor never meets a developer's `make run` or another test run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support import PROJECT_ROOT


def tracked_files(root: Path = PROJECT_ROOT) -> list[str]:
    """The checkout's files as git would commit them: tracked plus new, not ignored."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and (root / name).is_file()]


def copy_checkout(target: Path, root: Path = PROJECT_ROOT) -> Path:
    """Copy the working tree's files to `target`, with .venv linked to the project's venv."""
    for name in tracked_files(root):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, destination)
    (target / ".venv").symlink_to(root / ".venv")
    for folder in ("logs", "pids", "socks", "var"):
        (target / folder).mkdir(exist_ok=True)
    return target


def supervisorctl(checkout: Path, conf: str, *args: str, env: dict, timeout: float = 30) -> str:
    result = subprocess.run(
        [str(checkout / ".venv/bin/supervisorctl"), "-c", str(checkout / conf), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.stdout + result.stderr


def program_states(checkout: Path, conf: str, env: dict) -> dict[str, str]:
    states = {}
    for line in supervisorctl(checkout, conf, "status", env=env).splitlines():
        parts = line.split()
        if len(parts) >= 2 and ":" in parts[0]:
            states[parts[0]] = parts[1]
    return states


def wait_all_running(checkout: Path, conf: str, env: dict, count: int, timeout: float = 90) -> dict[str, str]:
    """Wait until `count` programs are RUNNING (and stayed past startsecs)."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = program_states(checkout, conf, env)
        if len(states) == count and all(state == "RUNNING" for state in states.values()):
            return states
        time.sleep(0.5)
    raise TimeoutError(f"programs not all RUNNING after {timeout}s: {states}")


def stop_supervisord(checkout: Path, conf: str, env: dict, pidfile: str, timeout: float = 90) -> None:
    """`supervisorctl shutdown`, then make sure the daemon and its process group are gone."""
    pid_path = checkout / pidfile
    pid = int(pid_path.read_text().strip()) if pid_path.exists() else None
    supervisorctl(checkout, conf, "shutdown", env=env)
    if pid is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


@dataclass
class LoadResult:
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    revisions: Counter = field(default_factory=Counter)
    slowest: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + len(self.errors)

    @property
    def failures(self) -> list[str]:
        bad = [f"HTTP {status} x{count}" for status, count in self.statuses.items() if status != 200]
        return bad + self.errors[:10]


class Load:
    """A bounded HTTP load from a few threads.

    By default one new connection per request: what a client behind a proxy
    sees, and a failure counts only if the server refused or broke a request.
    With keep_alive each thread reuses one connection, as nginx's upstream
    keep-alive does: a worker that closes it mid-request shows as a reset.
    """

    # A client behind nginx waits up to proxy_read_timeout (60 s, deploy/nginx.conf.template):
    # during a reload requests wait in the listen backlog while new workers boot.
    def __init__(self, url: str, threads: int = 8, timeout: float = 60.0, keep_alive: bool = False):
        self.url = url
        self.threads = threads
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.result = LoadResult()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _run(self) -> None:
        session = requests.Session()
        headers = {} if self.keep_alive else {"Connection": "close"}
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = session.get(self.url, timeout=self.timeout, headers=headers)
                revision = ""
                if response.status_code == 200 and "revision" in response.text:
                    revision = response.json().get("revision", "")
                with self._lock:
                    self.result.slowest = max(self.result.slowest, time.monotonic() - started)
                    self.result.statuses[response.status_code] += 1
                    if revision:
                        self.result.revisions[revision] += 1
            except requests.RequestException as error:
                with self._lock:
                    self.result.errors.append(f"{type(error).__name__}: {error}")
        session.close()

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)


def read_from(path: Path, offset: int) -> str:
    """The text appended to `path` after byte `offset` (a log this test does not own from the start)."""
    if not path.exists():
        return ""
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def wait_for_log(path: Path, offset: int, pattern: str, count: int = 1, timeout: float = 60) -> str:
    """Wait until `pattern` (a regex) appears `count` times in `path` after `offset`; return that text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = read_from(path, offset)
        if len(re.findall(pattern, text)) >= count:
            return text
        time.sleep(0.2)
    raise TimeoutError(f"{pattern!r} x{count} not in {path.name} after {timeout}s; last lines:\n{text[-3000:]}")


ACCESS_STATUS = re.compile(r'" (\d{3}) ')


def access_log_statuses(path: Path, marker: str = "") -> Counter:
    """Status codes in a Gunicorn access log (our format), optionally for lines containing `marker`."""
    counts: Counter = Counter()
    if not path.exists():
        return counts
    for line in path.read_text(errors="replace").splitlines():
        if marker and marker not in line:
            continue
        match = ACCESS_STATUS.search(line)
        if match:
            counts[int(match.group(1))] += 1
    return counts


def enqueue_sleep_jobs(redis_url: str, count: int, seconds: float) -> list[str]:
    """Jobs any worker can run (time.sleep), spread over the three queues."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    ids = []
    for index in range(count):
        queue = Queue(("high", "default", "low")[index % 3], connection=connection)
        ids.append(queue.enqueue("time.sleep", seconds, result_ttl=3600).id)
    return ids


def wait_jobs_finished(redis_url: str, ids: list[str], timeout: float = 120) -> dict[str, str]:
    """Job id -> final status; waits until every job finished or failed, or the timeout."""
    from redis import Redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    def status_of(job_id: str) -> str:
        try:
            status = Job.fetch(job_id, connection=connection).get_status()
        except NoSuchJobError:
            return "missing"
        return getattr(status, "value", str(status))

    connection = Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {job_id: status_of(job_id) for job_id in ids}
        if all(status in ("finished", "failed", "missing") for status in statuses.values()):
            break
        time.sleep(0.5)
    return statuses


def established_ports(pid: int, end: str = "remote") -> set[int]:
    """The local or remote ports of the established TCP connections that process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    column = 2 if end == "remote" else 1
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
                ports.add(int(fields[column].rsplit(":", 1)[1], 16))
    return ports
