"""What `manage.py top` shows: one frame of the running stack, and the rates between two frames.

It reads what /metrics serves, without HTTP: the Gunicorn workers' metric files
(corelib.metrics, in the directory gunicorn.conf.py gives this instance) and
RQ's state in Redis. Memory and liveness come from /proc, so a worker that is
stuck still shows.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from corelib.gunicorn_paths import instance_name, metrics_dir
from corelib.rq_metrics import RQCollector

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class WorkerRow:
    pid: int
    requests: float = 0.0
    in_flight: float = 0.0
    rss_bytes: float = 0.0
    started: float = 0.0
    db_in_use: float = 0.0
    db_size: float = 0.0
    requests_per_second: float | None = None


@dataclass
class Frame:
    taken_at: float
    instance: str
    master_pid: int | None
    master_alive: bool
    workers: dict[int, WorkerRow] = field(default_factory=dict)
    queues: dict[str, dict[str, float]] = field(default_factory=dict)
    finished_per_second: dict[str, float | None] = field(default_factory=dict)
    rq_workers: dict[str, float] = field(default_factory=dict)
    schedulers_alive: float = 0.0
    redis_up: bool = False


def gunicorn_metrics_dir() -> Path:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")[0].strip()
    return metrics_dir(Path(settings.BASE_DIR), current_instance(), bind)


def current_instance() -> str:
    return instance_name(os.environ.get("DJANGO_SETTINGS_MODULE", "project.settings_debug"))


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _rss(pid: int) -> float | None:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def _master() -> tuple[int | None, bool]:
    pidfile = Path(settings.BASE_DIR) / "pids" / f"{current_instance()}.pid"
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None, False
    return pid, _alive(pid)


def take_frame(directory: Path | None = None) -> Frame:
    master_pid, master_alive = _master()
    frame = Frame(time.time(), current_instance(), master_pid, master_alive)
    registry = CollectorRegistry()
    directory = directory or gunicorn_metrics_dir()
    if directory.is_dir():
        MultiProcessCollector(registry, path=str(directory))
    registry.register(RQCollector())
    for family in registry.collect():
        for sample in family.samples:
            _take_sample(frame, sample.name, sample.labels, sample.value)
    for pid in list(frame.workers):
        if not _alive(pid):
            del frame.workers[pid]
            continue
        rss = _rss(pid)
        if rss is not None:
            frame.workers[pid].rss_bytes = rss
    return frame


def _take_sample(frame: Frame, name: str, labels: dict[str, str], value: float) -> None:
    if "pid" in labels and name.startswith("miniprogram_"):
        row = frame.workers.setdefault(int(labels["pid"]), WorkerRow(int(labels["pid"])))
        if name == "miniprogram_worker_requests":
            row.requests = value
        elif name == "miniprogram_worker_in_flight":
            row.in_flight = value
        elif name == "miniprogram_worker_rss_bytes":
            row.rss_bytes = value
        elif name == "miniprogram_worker_start_time_seconds":
            row.started = value
        elif name == "miniprogram_db_pool_in_use":
            row.db_in_use += value
        elif name == "miniprogram_db_pool_size":
            row.db_size += value
    elif name == "rq_jobs":
        frame.queues.setdefault(labels["queue"], {})[labels["state"]] = value
    elif name == "rq_workers":
        frame.rq_workers[labels["state"]] = value
    elif name == "rq_scheduler_alive":
        frame.schedulers_alive = value
    elif name == "rq_redis_up":
        frame.redis_up = bool(value)


def add_rates(frame: Frame, previous: Frame | None) -> Frame:
    """Requests/s per worker and finished jobs/s per queue since `previous` (None on the first frame)."""
    if previous is None:
        return frame
    elapsed = max(frame.taken_at - previous.taken_at, 1e-6)
    for pid, row in frame.workers.items():
        before = previous.workers.get(pid)
        if before is not None:
            row.requests_per_second = max(0.0, row.requests - before.requests) / elapsed
    for queue, states in frame.queues.items():
        finished_before = previous.queues.get(queue, {}).get("finished")
        if finished_before is not None:
            # Finished jobs expire from the registry after their result_ttl: never show a negative rate.
            frame.finished_per_second[queue] = max(0.0, states.get("finished", 0) - finished_before) / elapsed
    return frame


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(frame: Frame) -> str:
    now = frame.taken_at
    master = f"master {frame.master_pid or '-'} {'alive' if frame.master_alive else 'NOT RUNNING'}"
    lines = [
        f"{frame.instance}  {master}  {time.strftime('%Y-%m-%d %H:%M:%S %z', time.localtime(now))}",
        "",
        f"{'worker pid':>10} {'req/s':>8} {'requests':>9} {'in-flight':>9} {'RSS MB':>8} {'age':>8} {'DB slots':>9}",
    ]
    for pid in sorted(frame.workers):
        row = frame.workers[pid]
        age = f"{int(now - row.started)}s" if row.started else "-"
        slots = f"{int(row.db_in_use)}/{int(row.db_size)}" if row.db_size else "0/-"
        lines.append(
            f"{pid:>10} {_rate(row.requests_per_second):>8} {int(row.requests):>9} {int(row.in_flight):>9}"
            f" {row.rss_bytes / 1048576:>8.1f} {age:>8} {slots:>9}"
        )
    if not frame.workers:
        lines.append(f"{'(no Gunicorn worker reports metrics)':>40}")
    lines += ["", f"{'queue':>10} {'waiting':>8} {'started':>8} {'failed':>8} {'finished/s':>11} {'scheduled':>10}"]
    for queue, states in frame.queues.items():
        lines.append(
            f"{queue:>10} {int(states.get('queued', 0)):>8} {int(states.get('started', 0)):>8}"
            f" {int(states.get('failed', 0)):>8} {_rate(frame.finished_per_second.get(queue)):>11}"
            f" {int(states.get('scheduled', 0)):>10}"
        )
    if not frame.redis_up:
        lines.append("   Redis does not answer: no queue figures")
    workers = frame.rq_workers
    scheduler = "alive" if frame.schedulers_alive else "NOT RUNNING"
    lines += [
        "",
        f"rq workers: {int(workers.get('busy', 0))} busy, {int(workers.get('idle', 0))} idle    scheduler: {scheduler}",
    ]
    return "\n".join(lines)
