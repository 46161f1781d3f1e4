"""The reload case: HUP the Gunicorn master under load and measure what the clients saw.

A small load generator of our own (wrk reports no per-request timestamps):
`conns` threads, each on one keep-alive connection, each recording per request
when it was sent, when it was answered and how. Meanwhile the master gets HUP a
few times. A HUP window runs from the HUP until the rollout is done - every old
worker exited, the full count of new ones present, and a request sent after
that answered - and at least `min_window` seconds. The figures:

- gap: the longest interval inside a HUP window in which no request completed
  (the window's start and end count as edges);
- p99 of the requests sent inside the windows, against those sent outside;
- failures: non-2xx answers and requests that got no answer. A request that
  found its reused keep-alive connection already closed by a retiring worker,
  before any byte of an answer, is sent again on a new connection, as nginx and
  HTTP client libraries do for a GET; those are counted apart as `retried`.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field

from bench import servers


@dataclass
class Sample:
    sent: float
    done: float
    ok: bool


@dataclass
class ReloadResult:
    arbiter: str
    conns: int
    hups: int
    requests: int = 0
    gap_ms: float = 0.0
    p99_in_ms: float = 0.0
    p99_out_ms: float = 0.0
    requests_in: int = 0
    requests_out: int = 0
    failures: int = 0
    retried: int = 0
    rollout_s: list[float] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


class Load:
    """`conns` threads sending GETs back to back on keep-alive connections until `stop()` or `deadline`."""

    def __init__(self, port: int, paths: list[str], conns: int, deadline: float) -> None:
        self.port = port
        self.paths = paths
        self.deadline = deadline
        self.samples: list[list[Sample]] = [[] for _ in range(conns)]
        self.retried = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(conns)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def all_samples(self) -> list[Sample]:
        return [s for per_thread in self.samples for s in per_thread]

    def answered_after(self, sent_from: float) -> bool:
        return any(s.ok and s.sent >= sent_from for per_thread in self.samples for s in per_thread[-50:])

    def _client(self, index: int) -> None:
        out = self.samples[index]
        conn: http.client.HTTPConnection | None = None
        reused = False
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            if conn is None:
                conn, reused = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10), False
            sent = time.monotonic()
            try:
                conn.request("GET", random.choice(self.paths))  # noqa: S311 - a load pattern, not a secret
                answer = conn.getresponse()
                answer.read()
                out.append(Sample(sent, time.monotonic(), 200 <= answer.status < 300))
                if answer.will_close:
                    conn.close()
                    conn = None
                else:
                    reused = True
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                conn = None
                if reused:
                    with self._lock:
                        self.retried += 1
                    continue  # the closed keep-alive connection: send again on a fresh one
                out.append(Sample(sent, time.monotonic(), False))
            except (OSError, http.client.HTTPException):
                if conn is not None:
                    conn.close()
                conn = None
                out.append(Sample(sent, time.monotonic(), False))
        if conn is not None:
            conn.close()


def _children(pid: int) -> set[int]:
    return set(servers.children_map().get(pid, []))


def _p99_ms(latencies: list[float]) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _longest_gap(completions: list[float], start: float, end: float) -> float:
    edges = [start, *(t for t in completions if start <= t <= end), end]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


def measure(
    server: servers.Server,
    arbiter: str,
    paths: list[str],
    conns: int,
    hups: int,
    settle: float,
    min_window: float,
    rollout_timeout: float = 90.0,
) -> ReloadResult:
    """Load the server, HUP its master `hups` times (each after the last rollout is done), and sum up."""
    result = ReloadResult(arbiter, conns, hups)
    master = server.process.pid
    budget = settle + hups * (rollout_timeout + min_window + settle) + 30
    load = Load(server.port, paths, conns, time.monotonic() + budget)
    windows: list[tuple[float, float]] = []
    load.start()
    try:
        time.sleep(settle)  # outside any window: the steady state the windows are compared with
        for _ in range(hups):
            old = _children(master)
            hup = time.monotonic()
            os.kill(master, signal.SIGHUP)
            deadline = hup + rollout_timeout
            while time.monotonic() < deadline:
                now = _children(master)
                if not (now & old) and len(now) >= servers.WORKERS:
                    break
                time.sleep(0.05)
            else:
                result.error = f"rollout not done {rollout_timeout:.0f} s after HUP"
                break
            rolled = time.monotonic()
            while time.monotonic() < deadline and not load.answered_after(rolled):
                time.sleep(0.02)
            end = max(time.monotonic(), hup + min_window)
            while time.monotonic() < end:
                time.sleep(0.05)
            windows.append((hup, end))
            result.rollout_s.append(round(rolled - hup, 2))
            time.sleep(settle)
    finally:
        load.stop()
    samples = load.all_samples()
    result.requests = len(samples)
    result.retried = load.retried
    result.failures = sum(1 for s in samples if not s.ok)
    completions = sorted(s.done for s in samples if s.ok)
    inside = [s for s in samples if any(a <= s.sent <= b for a, b in windows)]
    outside = [s for s in samples if not any(a <= s.sent <= b for a, b in windows)]
    result.requests_in, result.requests_out = len(inside), len(outside)
    result.p99_in_ms = _p99_ms([s.done - s.sent for s in inside])
    result.p99_out_ms = _p99_ms([s.done - s.sent for s in outside])
    result.gap_ms = max((_longest_gap(completions, a, b) for a, b in windows), default=0.0) * 1000
    return result
