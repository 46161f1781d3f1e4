"""Memory of the whole stack: PSS per Supervisor program and in total, idle (and optionally under load).

    python -m bench.memory [--idle 20] [--load 0] [--workers N] [--json FILE]

Starts `supervisord_test.conf` (Gunicorn, ten RQ workers, the scheduler) from
a copy of the checkout, against a run's own databases and Redis index
(bench/fixture.py), waits until every program is RUNNING, lets it sit idle,
then reads /proc/<pid>/smaps_rollup of every process of every program.

PSS (proportional set size) splits a page shared by N processes N ways, so
the sum over processes is what the stack really costs; USS (private pages
only) is what one more process of a kind would add.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench import fixture
from bench.servers import children_map

ROOT = Path(__file__).resolve().parent.parent
CONF = "supervisord_test.conf"
SUPERVISORD_PIDFILE = "pids/supervisord-test.pid"
PROGRAM_COUNT = 13  # gunicorn, rqforkserver, ten rqworker relays, rqscheduler
FORKSERVER = "rqforkserver"
# The workers forked by rqforkserver, counted with the RQ workers (their relays are rqworker_NN).
FORKED_WORKERS = "rqworker.forked"
# Forked by rqforkserver too when its program is a relay: counted on the scheduler's line.
SCHEDULER = "rqscheduler"
FORKED_SCHEDULER = "rqscheduler.forked"
# Jobs waiting per queue beyond which the mixed load sends no more.
BACKLOG = 20
STATUS_PID = re.compile(r"^(\S+)\s+RUNNING\s+pid (\d+)")


@dataclass
class Usage:
    """Memory of a set of processes, in kB."""

    pss: int = 0
    uss: int = 0
    rss: int = 0
    processes: int = 0

    def add(self, other: Usage) -> None:
        self.pss += other.pss
        self.uss += other.uss
        self.rss += other.rss
        self.processes += other.processes

    def subtract(self, other: Usage) -> None:
        self.pss -= other.pss
        self.uss -= other.uss
        self.rss -= other.rss
        self.processes -= other.processes


@dataclass
class Snapshot:
    programs: dict[str, Usage] = field(default_factory=dict)

    @property
    def total(self) -> Usage:
        total = Usage()
        for usage in self.programs.values():
            total.add(usage)
        return total

    def kind(self, prefix: str) -> Usage:
        """The programs whose name starts with `prefix`, summed (e.g. every rqworker)."""
        total = Usage()
        for name, usage in self.programs.items():
            if name.startswith(prefix):
                total.add(usage)
        return total


def process_usage(pid: int) -> Usage:
    """PSS, USS and RSS of one process from smaps_rollup; zeros if it is gone."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    fields[parts[0][:-1]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return Usage()
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Usage(pss=fields.get("Pss", 0), uss=uss, rss=fields.get("Rss", 0), processes=1)


def tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def stable_tree_usage(pid: int, attempts: int = 20) -> Usage:
    """Usage of `pid` and its descendants, read again until no process started or ended meanwhile.

    Under load an RQ worker forks a work horse per job, and the two share pages:
    a worker read while a horse lives that is missing from the read (forked
    after the listing, or gone before its own read) has those pages counted half.
    """
    usage = Usage()
    for _ in range(attempts):
        members = tree(pid, children_map())
        usage = Usage()
        for member in members:
            usage.add(process_usage(member))
        if usage.processes == len(members) and set(tree(pid, children_map())) == set(members):
            return usage
    return usage


class Stack:
    """supervisord_test.conf from a copy of the checkout, on the run's databases and Redis index."""

    def __init__(self, data: fixture.BenchData, run_dir: Path, workers: int | None, extra_env: dict[str, str]):
        from tests.runtime.stack import copy_checkout

        self.checkout = copy_checkout(run_dir / "app", ROOT)
        self.port = fixture_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = data.env(GUNICORN_BIND=f"127.0.0.1:{self.port}", PYTHONPATH=str(self.checkout), **extra_env)
        if workers:
            env["GUNICORN_WORKERS"] = str(workers)
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the conf names it
        self.env = env

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.checkout / ".venv/bin/supervisorctl"), "-c", str(self.checkout / CONF), *args],
            cwd=self.checkout,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout + result.stderr

    def start(self, timeout: float = 180) -> float:
        """Start supervisord; return the seconds until every program is RUNNING and the API ready."""
        started = time.monotonic()
        subprocess.run(
            [str(self.checkout / ".venv/bin/supervisord"), "-c", str(self.checkout / CONF)],
            cwd=self.checkout,
            env=self.env,
            check=True,
            timeout=30,
        )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if len(self.program_pids()) == PROGRAM_COUNT and self._ready():
                return time.monotonic() - started
            time.sleep(0.5)
        raise TimeoutError(f"stack not up after {timeout}s:\n{self.supervisorctl('status')}")

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def program_pids(self) -> dict[str, int]:
        pids = {}
        for line in self.supervisorctl("status").splitlines():
            match = STATUS_PID.match(line)
            if match:
                pids[match.group(1).split(":")[-1]] = int(match.group(2))
        return pids

    def supervisord_pid(self) -> int | None:
        path = self.checkout / SUPERVISORD_PIDFILE
        return int(path.read_text().strip()) if path.exists() else None

    def snapshot(self) -> Snapshot:
        snapshot = Snapshot()
        pids = self.program_pids()
        for name, pid in sorted(pids.items()):
            if name == FORKSERVER:  # the parent alone; its children are the RQ workers (and the scheduler)
                snapshot.programs[name] = process_usage(pid)
                snapshot.programs[FORKED_WORKERS] = stable_tree_usage(pid)
                snapshot.programs[FORKED_WORKERS].subtract(snapshot.programs[name])
                scheduler = forked_for(pids.get(SCHEDULER), pid)
                if scheduler:
                    snapshot.programs[FORKED_SCHEDULER] = stable_tree_usage(scheduler)
                    snapshot.programs[FORKED_WORKERS].subtract(snapshot.programs[FORKED_SCHEDULER])
            else:
                snapshot.programs[name] = stable_tree_usage(pid)
        supervisord = self.supervisord_pid()
        if supervisord:
            snapshot.programs["supervisord"] = process_usage(supervisord)
        return snapshot

    def wait_jobs_done(self, timeout: float = 300) -> None:
        """Until every queue is empty and no worker is busy (the load leaves a backlog behind)."""
        from redis import Redis
        from rq import Queue, Worker

        connection = Redis.from_url(self.env["REDIS_URL"])
        queues = [Queue(name, connection=connection) for name in ("high", "default", "low")]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [worker for worker in Worker.all(connection=connection) if worker.get_state() == "busy"]
            if not busy and not any(queue.count for queue in queues):
                return
            time.sleep(0.5)
        raise TimeoutError(f"jobs still running or queued after {timeout}s")

    def stop(self) -> None:
        from tests.runtime.stack import stop_supervisord

        stop_supervisord(self.checkout, CONF, self.env, SUPERVISORD_PIDFILE)


def forked_for(relay: int | None, server: int) -> int | None:
    """The child of the fork server that stands behind `relay`: it writes to the relay's stdout."""
    if relay is None:
        return None
    try:
        output = os.readlink(f"/proc/{relay}/fd/1")
    except OSError:
        return None
    for child in children_map().get(server, []):
        try:
            if os.readlink(f"/proc/{child}/fd/1") == output:
                return child
        except OSError:
            continue
    return None


def fixture_free_port() -> int:
    from bench.servers import free_port

    return free_port()


def summary(snapshot: Snapshot) -> dict[str, dict]:
    """Per kind of program: PSS/USS totals and per-process figures, in MB."""

    def mb(kb: int) -> float:
        return round(kb / 1024, 1)

    rows = {}
    for kind in ("gunicorn", "rqforkserver", "rqworker", "rqscheduler", "supervisord"):
        usage = snapshot.kind(kind)
        rows[kind] = {
            "programs": sum(
                1
                for name in snapshot.programs
                if name.startswith(kind) and name not in (FORKED_WORKERS, FORKED_SCHEDULER)
            ),
            "processes": usage.processes,
            "pss_mb": mb(usage.pss),
            "uss_mb": mb(usage.uss),
            "rss_mb": mb(usage.rss),
        }
    workers = snapshot.kind("rqworker")
    count = rows["rqworker"]["programs"] or 1
    rows["rqworker"]["pss_each_mb"] = mb(workers.pss // count)
    rows["rqworker"]["uss_each_mb"] = mb(workers.uss // count)
    relays = snapshot.kind("rqworker_")
    rows["rqworker"]["relay_pss_each_mb"] = mb(relays.pss // count)
    total = snapshot.total
    rows["total"] = {"processes": total.processes, "pss_mb": mb(total.pss), "uss_mb": mb(total.uss)}
    return rows


def format_table(rows: dict[str, dict]) -> str:
    lines = [f"{'program':<12} {'procs':>5} {'PSS MB':>8} {'USS MB':>8} {'RSS MB':>8}"]
    for kind, row in rows.items():
        rss = f"{row['rss_mb']:>8.1f}" if "rss_mb" in row else f"{'':>8}"
        lines.append(f"{kind:<12} {row['processes']:>5} {row['pss_mb']:>8.1f} {row['uss_mb']:>8.1f} {rss}")
    worker = rows["rqworker"]
    lines.append(f"one RQ worker: PSS {worker['pss_each_mb']} MB, USS (not shared) {worker['uss_each_mb']} MB")
    lines.append(f"one rqworker_NN relay: PSS {worker['relay_pss_each_mb']} MB (counted in the figures above)")
    return "\n".join(lines)


def sample_during(
    stack: Stack, seconds: float, drive: Callable[[float], None] | None, every: float = 5.0
) -> tuple[Snapshot, list[tuple[float, float]]]:
    """Sample every `every` seconds for `seconds` while `drive` runs: the peak snapshot and (t, total PSS MB)."""
    import threading

    peak = Snapshot()
    samples: list[tuple[float, float]] = []
    worker = threading.Thread(target=drive, args=(seconds,), daemon=True) if drive else None
    if worker:
        worker.start()
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        current = stack.snapshot()
        samples.append((round(time.monotonic() - started, 1), round(current.total.pss / 1024, 1)))
        if current.total.pss > peak.total.pss:
            peak = current
        time.sleep(every)
    if worker:
        worker.join(timeout=30)
    return peak, samples


def growth_mb(samples: list[tuple[float, float]], window: float = 60.0) -> float | None:
    """Mean total PSS of the last `window` seconds minus that of the first (after a first window of warm-up)."""
    if not samples or samples[-1][0] < 3 * window:
        return None
    end = samples[-1][0]
    first = [mb for t, mb in samples if window <= t < 2 * window]
    last = [mb for t, mb in samples if t >= end - window]
    return round(sum(last) / len(last) - sum(first) / len(first), 1)


def mixed_load(url: str, redis_url: str, seed: dict) -> Callable[[float], None]:
    """A bounded mixed load: the benchmark's read cases from a few threads, and small jobs onto every queue."""

    def drive(seconds: float) -> None:
        import threading

        from redis import Redis
        from rq import Queue

        deadline = time.monotonic() + seconds
        queues = [Queue(name, connection=Redis.from_url(redis_url)) for name in ("high", "default", "low")]

        def reads() -> None:
            session = requests.Session()
            board = f"/api/v1/boards/{seed['board_id']}/messages"
            paths = ("/api/probe/json", f"/api/probe/db-redis/{seed['mini_program_ids'][0]}", board)
            auth = {"Authorization": f"Bearer {seed['token']}"}
            index = 0
            while time.monotonic() < deadline:
                try:
                    session.get(url + paths[index % len(paths)], headers=auth, timeout=10)
                except requests.RequestException:
                    pass
                index += 1

        threads = [threading.Thread(target=reads, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        sent = 0
        while time.monotonic() < deadline:
            queue = queues[sent % 3]
            if queue.count < BACKLOG:  # what the workers cannot keep up with is not sent
                queue.enqueue("time.sleep", 0.05, result_ttl=60)
            sent += 1
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=15)

    return drive


def measure(idle: float, load_seconds: float, workers: int | None, extra_env: dict[str, str]) -> dict:
    run_id = uuid.uuid4().hex[:8]
    run_dir = fixture.new_run_dir()
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(run_id, run_dir)
    result: dict = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "idle_seconds": idle, "env": extra_env}
    stack = None
    try:
        seed = data.create("tiny")  # a few rows, so the load's reads find data
        stack = Stack(data, run_dir, workers, extra_env)
        result["boot_seconds"] = round(stack.start(), 1)
        time.sleep(idle)  # the figure wanted is the idle one: nothing to poll for
        result["idle"] = summary(stack.snapshot())
        if load_seconds:
            redis_url = stack.env["REDIS_URL"]
            result["load_seconds"] = load_seconds
            peak, samples = sample_during(stack, load_seconds, mixed_load(stack.url, redis_url, seed))
            result["load_peak"] = summary(peak)
            result["load_samples"] = samples
            result["load_growth_mb"] = growth_mb(samples)
            stack.wait_jobs_done()
            time.sleep(idle)
            result["after_load"] = summary(stack.snapshot())
    finally:
        if stack is not None:
            stack.stop()
        data.destroy()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=20, help="seconds idle after start before measuring")
    parser.add_argument("--load", type=float, default=0, help="seconds of mixed load, sampling the peak (0: none)")
    parser.add_argument("--workers", type=int, default=None, help="GUNICORN_WORKERS (default: gunicorn.conf.py's)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    fixture.exit_cleanly_on_signals()
    result = measure(args.idle, args.load, args.workers, extra)
    print(f"idle {args.idle:.0f}s after start (boot {result['boot_seconds']}s):")
    print(format_table(result["idle"]))
    if "load_peak" in result:
        print(f"\npeak under {args.load:.0f}s of mixed load:")
        print(format_table(result["load_peak"]))
        print(f"growth under load (last minute minus second minute): {result['load_growth_mb']} MB")
        print("\nidle again after the load:")
        print(format_table(result["after_load"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
