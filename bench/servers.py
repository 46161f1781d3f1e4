"""Start and stop the servers under test, each on a free port, each in its own process group."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CPUS = os.cpu_count() or 1
WORKERS = int(os.environ.get("GUNICORN_WORKERS", CPUS * 2 + 1))  # the project's gunicorn.conf.py default
GTHREAD_THREADS = 8
GRANIAN_BLOCKING_THREADS = 8
UWSGI_ASYNC = 2000  # = gunicorn's worker_connections


def children_map() -> dict[int, list[int]]:
    """Every process's children, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log: Path
    info: str = ""
    pids: list[int] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tree_pids(self) -> list[int]:
        """The master and every descendant (the workers)."""
        children = children_map()
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.tree_pids():
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def rss_largest_process_bytes(self) -> int:
        """The RSS of the largest process of the tree: one worker's peak (the master is the smaller)."""
        largest = 0
        for pid in self.tree_pids():
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            largest = max(largest, int(line.split()[1]) * 1024)
            except OSError:
                continue
        return largest

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # our own group: started with start_new_session
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available(kind: str) -> bool:
    exe = {"uwsgi": BIN / "uwsgi", "granian": BIN / "granian"}.get(kind)
    if kind == "nginx":
        return shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()
    return exe is None or exe.exists()


def command(
    kind: str, port: int, run_dir: Path, threads: int | None = None, app: str | None = None, root: Path = ROOT
) -> tuple[list[str], dict, str]:
    """argv, extra environment and a one-line description for a server kind.

    threads: gthread's threads or granian's blocking threads per worker (the defaults above when None);
    app: a bench variant of the service's WSGI app ("module:callable"), for the kinds that run the service;
    root: the checkout whose code Gunicorn runs (another commit's, for bench.ab --at).
    """
    gunicorn = [str(BIN / "gunicorn"), "-c", str(root / "bench" / "gunicorn_bench.py"), "--bind", f"127.0.0.1:{port}"]
    common = {"GUNICORN_WORKERS": str(WORKERS), "BENCH_SERVER": kind}
    if app and kind in ("gevent", "sync", "gthread"):
        common["BENCH_WSGI_APP"] = app
    gthread_threads = threads or GTHREAD_THREADS
    granian_threads = threads or GRANIAN_BLOCKING_THREADS
    if kind == "gevent":
        return gunicorn, common, f"gunicorn gevent, {WORKERS} workers x 2000 connections (gunicorn.conf.py)"
    if kind == "bare":
        env = {**common, "BENCH_WSGI_APP": "bench.bare_wsgi:application"}
        return gunicorn, env, f"bare WSGI callable on gunicorn gevent, {WORKERS} workers (same config)"
    if kind == "bare_db_redis":
        env = {**common, "BENCH_WSGI_APP": "bench.bare_db_redis:application"}
        return gunicorn, env, f"bare db_redis WSGI callable (PyMySQL + redis-py) on gunicorn gevent, {WORKERS} workers"
    if kind == "sync":
        return gunicorn, {**common, "BENCH_WORKER_CLASS": "sync"}, f"gunicorn sync, {WORKERS} workers"
    if kind == "gthread":
        env = {**common, "BENCH_WORKER_CLASS": "gthread", "BENCH_THREADS": str(gthread_threads)}
        return gunicorn, env, f"gunicorn gthread, {WORKERS} workers x {gthread_threads} threads"
    if kind == "uwsgi":
        argv = [
            str(BIN / "uwsgi"),
            "--http-socket",
            f"127.0.0.1:{port}",
            "--module",
            "bench.wsgi_gevent_first:application",
            "--master",
            "--processes",
            str(WORKERS),
            "--gevent",
            str(UWSGI_ASYNC),
            "--gevent-monkey-patch",
            "--lazy-apps",
            "--need-app",
            "--die-on-term",
            "--disable-logging",
            "--listen",
            "1024",
            "--pidfile",
            str(run_dir / "uwsgi.pid"),
            "--logto",
            str(run_dir / "uwsgi.log"),
        ]
        env = {"BENCH_GEVENT_APP_MODULE": app.split(":")[0]} if app else {}
        return argv, env, f"uWSGI {WORKERS} processes, --gevent {UWSGI_ASYNC}, http-socket (no keep-alive)"
    if kind == "granian":
        argv = [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--blocking-threads",
            str(granian_threads),
            "--no-access-log",
            "--log-level",
            "warning",
            app or "project.wsgi:application",
        ]
        return argv, {}, f"granian WSGI, {WORKERS} workers x {granian_threads} blocking threads"
    if kind == "nginx":
        (run_dir / "static").mkdir(exist_ok=True)
        (run_dir / "nginx-tmp").mkdir(exist_ok=True)
        conf = (ROOT / "bench" / "nginx.conf.tmpl").read_text().format(workers=CPUS, run_dir=run_dir, port=port)
        (run_dir / "nginx.conf").write_text(conf)
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        return [exe, "-c", str(run_dir / "nginx.conf"), "-p", str(run_dir)], {}, f"nginx static file, {CPUS} workers"
    raise ValueError(kind)


def start(
    kind: str,
    env: dict,
    run_dir: Path,
    health_path: str,
    timeout: float = 60.0,
    threads: int | None = None,
    app: str | None = None,
    root: Path = ROOT,
) -> Server:
    port = free_port()
    argv, extra, info = command(kind, port, run_dir, threads, app, root)
    log = run_dir / f"server-{kind}.log"
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        argv, cwd=root, env={**env, **extra}, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Server(kind, port, process, log, info)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited with {process.returncode}; see {log}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(server.url(health_path), timeout=2).status_code == 200:
                _wait_for_workers(server)
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(f"{kind} did not answer {health_path} within {timeout}s; see {log}")


def _wait_for_workers(server: Server) -> None:
    """Let every worker boot (the first answer may come from the first one only)."""
    for _ in range(50):
        if len(server.tree_pids()) >= 2 or server.name == "granian":
            break
        time.sleep(0.1)
    time.sleep(1.0)
