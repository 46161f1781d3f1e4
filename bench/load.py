"""Drive load with wrk and ab, and sample MariaDB's Threads_connected and the server's RSS meanwhile."""

import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pymysql

LUA = Path(__file__).resolve().parent / "wrk_report.lua"


def ensure_tools(need_ab: bool, need_h2load: bool = False) -> None:
    """wrk, nginx (and ab, h2load) come from Debian's packages; install them if missing."""
    tools = (("wrk", "wrk"), ("nginx", "nginx"), ("ab", "apache2-utils"), ("h2load", "nghttp2-client"))
    missing = [pkg for tool, pkg in tools if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if not need_ab and "apache2-utils" in missing:
        missing.remove("apache2-utils")
    if not need_h2load and "nghttp2-client" in missing:
        missing.remove("nghttp2-client")
    if missing:
        print(f"[bench] installing {' '.join(missing)} with apt-get", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, timeout=600)


@dataclass
class Result:
    label: str
    case: str
    server: str
    conns: int
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0
    threads_connected_peak: int = 0
    threads_connected_before: int = 0
    rss_peak_mb: float = 0.0
    rss_worker_peak_mb: float = 0.0  # the largest single process of the tree (one worker)
    upstream_in_flight_peak: int = 0  # the most calls the WeChat stand-in held at once (slow-upstream cases)
    error: str = ""
    raw: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class Sampler:
    """Samples MariaDB's Threads_connected and the server tree's RSS every 0.2 s in a thread."""

    def __init__(self, server, db_params: dict) -> None:
        self.server = server
        self.db_params = db_params
        self.threads_peak = 0
        self.threads_before = 0
        self.rss_peak = 0
        self.rss_worker_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._conn = None

    def _threads_connected(self) -> int:
        try:
            if self._conn is None:
                self._conn = pymysql.connect(**self.db_params, connect_timeout=2, read_timeout=2)
            with self._conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                return int(cur.fetchone()[1])
        except pymysql.MySQLError:
            self._conn = None
            return 0

    def __enter__(self) -> "Sampler":
        self.threads_before = self._threads_connected()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.threads_peak = max(self.threads_peak, self._threads_connected())
            self.rss_peak = max(self.rss_peak, self.server.rss_bytes())
            self.rss_worker_peak = max(self.rss_worker_peak, self.server.rss_largest_process_bytes())
            self._stop.wait(0.2)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()


def wrk_args(url: str, conns: int, seconds: float, script_args: list[str], headers: list[str]) -> list[str]:
    threads = min(2, conns)
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(LUA)]
    for header in headers:
        argv += ["-H", header]
    return [*argv, url, "--", *script_args]


def run_wrk(url: str, conns: int, seconds: float, script_args: list[str], headers: list[str]) -> dict:
    if script_args and script_args[0] == "login":
        # Each wrk run (warm-up, every concurrency) needs codes of its own: a login
        # code is valid once, and a replayed one is rightly refused with a 401.
        script_args = [*script_args[:3], f"{script_args[3]}-{uuid.uuid4().hex[:8]}", *script_args[4:]]
    argv = wrk_args(url, conns, seconds, script_args, headers)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    match = re.search(r"^BENCHJSON (.*)$", out.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no report (exit {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(match.group(1))
    data["argv"] = " ".join(argv)
    return data


# /proc/net/tcp states of a connection the server still holds (TIME_WAIT is done with).
_BUSY_STATES = {"01", "02", "03", "04", "05", "08", "09", "0B"}


def open_connections(port: int) -> int:
    """Connections to or from 127.0.0.1:port that are not closed yet, listening sockets and TIME_WAIT aside."""
    suffix = f":{port:04X}"
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[1].endswith(suffix) and fields[3] in _BUSY_STATES:
                        count += 1
        except OSError:
            continue
    return count


def wait_until_closed(port: int, timeout: float = 10.0) -> None:
    """Let the server finish closing the last wrk run's connections before the next run opens its own.

    Started while the warm-up's closes were pending (400-540 of them, for about
    0.14 s), a json run at 1000 connections had a p99 of 5.6-6.4 s; started after
    them, 0.35-1.3 s (three runs each).
    """
    deadline = time.monotonic() + timeout
    while open_connections(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def measure(
    result: Result,
    server,
    url: str,
    seconds: float,
    warmup: float,
    script_args,
    headers,
    db_params,
    settle_timeout: float = 10.0,
) -> Result:
    """settle_timeout: how long to let the server drain the last run's connections (see wait_until_closed)."""
    wait_until_closed(server.port, settle_timeout)
    if warmup > 0:
        run_wrk(url, result.conns, warmup, script_args, headers)
        wait_until_closed(server.port, settle_timeout)
    with Sampler(server, db_params) as sampler:
        data = run_wrk(url, result.conns, seconds, script_args, headers)
    secs = data["duration_us"] / 1e6
    result.raw = data
    result.requests = data["requests"]
    result.rps = data["requests"] / secs if secs else 0.0
    result.p50_ms = data["p50_us"] / 1000
    result.p99_ms = data["p99_us"] / 1000
    result.max_ms = data["max_us"] / 1000
    result.non2xx = data["status"]
    result.socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    result.timeouts = data["timeout"]
    result.threads_connected_peak = sampler.threads_peak
    result.threads_connected_before = sampler.threads_before
    result.rss_peak_mb = sampler.rss_peak / 2**20
    result.rss_worker_peak_mb = sampler.rss_worker_peak / 2**20
    return result


AB_FIELDS = {
    "rps": r"Requests per second:\s+([\d.]+)",
    "complete": r"Complete requests:\s+(\d+)",
    "failed": r"Failed requests:\s+(\d+)",
    "length": r"Length: (\d+)",
    "connect": r"\(Connect: (\d+)",
    "receive": r"Receive: (\d+)",
    "exceptions": r"Exceptions: (\d+)",
    "non2xx": r"Non-2xx responses:\s+(\d+)",
    "p50_ms": r"^\s+50%\s+(\d+)",
    "p99_ms": r"^\s+99%\s+(\d+)",
}


def run_ab(url: str, conns: int, seconds: int, lenient: bool) -> dict:
    """The ab command of the targets' table: ab -H 'Accept-Encoding: gzip' -t SECONDS -c CONNS [-l] URL."""
    argv = ["ab", "-H", "Accept-Encoding: gzip", "-t", str(seconds), "-c", str(conns)]
    if lenient:
        argv.append("-l")
    argv += ["-q", "-r", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90, check=False)
    row = {"argv": " ".join(argv), "exit": out.returncode}
    for name, pattern in AB_FIELDS.items():
        match = re.search(pattern, out.stdout, re.M)
        row[name] = float(match.group(1)) if match else 0
    if out.returncode != 0:
        row["error"] = (out.stderr or out.stdout)[-300:]
    return row


def settle(seconds: float) -> None:
    time.sleep(seconds)
