"""One snapshot of the stack: `manage.py runtime_stats [--json]` (`manage.py top` is the live view).

Gunicorn: the master from its pid file, each worker's pid, liveness, heartbeat
and age (from the control socket gunicorn.conf.py places in socks/, else from
`ps`), and the client connections open on its TCP port (requests in flight plus
idle keep-alives). RQ: jobs waiting per queue, busy and idle workers, jobs in
progress, failed, and scheduled (rq's own registry and rq-scheduler's).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import django_rq
from django.conf import settings
from django.core.management import BaseCommand
from rq import Worker

ROOT = Path(settings.BASE_DIR)


def instance_name() -> str:
    """The same name gunicorn.conf.py gives this settings module's Gunicorn."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "project.settings_debug")
    return "gunicorn-" + module.rpartition("settings_")[2].replace(".", "-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, timeout=5)
    return [int(line) for line in result.stdout.split()]


def _open_connections(port: int) -> int:
    """ESTABLISHED TCP connections whose local port is Gunicorn's."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                count += 1
    return count


def gunicorn_stats() -> dict:
    name = instance_name()
    pidfile = ROOT / "pids" / f"{name}.pid"
    stats: dict = {"instance": name, "pidfile": str(pidfile), "master": {"pid": None, "alive": False}, "workers": []}
    if not pidfile.exists():
        return stats
    pid = int(pidfile.read_text().strip())
    stats["master"] = {"pid": pid, "alive": _alive(pid)}
    if not stats["master"]["alive"]:
        return stats
    try:
        from gunicorn.ctl.client import ControlClient

        with ControlClient(str(ROOT / "socks" / f"{name}.ctl"), timeout=3) as client:
            workers = client.send_command("show workers")["workers"]
            server = client.send_command("show stats")
        stats["workers"] = [{**worker, "alive": _alive(worker["pid"])} for worker in workers]
        stats["master"].update(uptime=server.get("uptime"), workers_spawned=server.get("workers_spawned"))
    except Exception as error:  # no control socket (disabled, older gunicorn): fall back to ps
        stats["control_socket_error"] = str(error)
        stats["workers"] = [{"pid": child, "alive": True} for child in _children(pid)]
    bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")[0].strip()
    if not bind.startswith("unix:"):
        stats["open_connections"] = _open_connections(int(bind.rsplit(":", 1)[1]))
    return stats


def rq_stats() -> dict:
    queues = {}
    connection = None
    for name in settings.RQ_QUEUES:
        queue = django_rq.get_queue(name)
        connection = queue.connection
        queues[name] = {
            "waiting": queue.count,
            "started": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
        }
    workers = Worker.all(connection=connection)
    states = [str(getattr(worker.get_state(), "value", worker.get_state())) for worker in workers]
    try:
        from rq_scheduler import Scheduler

        periodic = Scheduler(connection=connection).count()
    except Exception:  # no rq-scheduler data yet
        periodic = 0
    return {
        "queues": queues,
        "workers": {"total": len(workers), "busy": states.count("busy"), "idle": states.count("idle")},
        "failed": sum(queue["failed"] for queue in queues.values()),
        "scheduled": sum(queue["scheduled"] for queue in queues.values()) + periodic,
        "scheduler_jobs": periodic,
    }


class Command(BaseCommand):
    help = "Show Gunicorn master/workers and RQ queues, workers, failed and scheduled jobs."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        stats = {"gunicorn": gunicorn_stats(), "rq": rq_stats()}
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        g, r = stats["gunicorn"], stats["rq"]
        master = g["master"]
        self.stdout.write(
            f"gunicorn master {master['pid'] or '-'} {'alive' if master['alive'] else 'NOT RUNNING'}"
            f"  uptime {master.get('uptime', '?')}s  open connections {g.get('open_connections', '?')}"
        )
        for worker in g["workers"]:
            self.stdout.write(
                f"  worker {worker['pid']} {'alive' if worker['alive'] else 'dead'}"
                f"  heartbeat {worker.get('last_heartbeat', '?')}s ago  age {worker.get('age', '?')}"
            )
        workers = r["workers"]
        self.stdout.write(f"rq workers {workers['total']}: {workers['busy']} busy, {workers['idle']} idle")
        for name, queue in r["queues"].items():
            self.stdout.write(
                f"  queue {name:8} waiting {queue['waiting']:5}  started {queue['started']:4}"
                f"  failed {queue['failed']:4}  scheduled {queue['scheduled']:4}"
            )
        periodic = r["scheduler_jobs"]
        self.stdout.write(f"failed jobs {r['failed']}  scheduled jobs {r['scheduled']} (periodic {periodic})")
