"""Open-loop latency: requests sent at a constant rate whether or not the answers came back, with h2load.

wrk's closed loop sends a connection's next request only once the last answer came, so a slow server slows the
client down and its latencies are really a throughput figure (coordinated omission). Here the rate is fixed:
`h2load --h1 -m 1 --rps R -c C` gives each of C keep-alive connections a timer that adds R×elapsed requests
to a pending count and sends one whenever the connection has no request in flight. With HTTP/1.1 a connection
carries one request at a time, so an answer slower than the connection's interval (C ÷ rate) delays its next
send and hides the wait from the latency: the run keeps that interval well above the latencies it measures
(CONNECTION_INTERVAL), reports the share of answers slower than it, and the achieved rate against the target.
h2load opens the connections a few per millisecond across one interval (`-r`, `--rate-period`), so the sends do
not come in bursts. Latencies are read from h2load's per-request log (start, status, time to the end of
the answer), without its first `warmup` seconds.
"""

import math
import re
import subprocess
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

CONNECTION_INTERVAL = 0.1  # seconds between two sends on one connection, at most (2x the p99 target at 50%)
MOST_CONNECTIONS = 1000  # = wrk's highest concurrency
LEAST_CONNECTIONS = 10
SLOT_US = 10_000  # sends are counted per 10 ms to show how evenly they came
WINDOW_SECONDS = 10.0  # the measured run is also cut into windows this long: the worst window's p99 shows a stall
SUMMARY = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout"
)


@dataclass
class OpenLoopResult:
    case: str
    server: str
    level: float  # share of the case's capacity (0 for the validation run)
    capacity: float  # the case's best closed-loop req/s on this server, same run
    target_rps: float
    conns: int = 0
    achieved_rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    max_ms: float = 0.0
    requests: int = 0  # answers inside the measured window
    non2xx: int = 0
    failed: int = 0  # h2load's failed + errored + timeout, whole run
    not_done: int = 0  # requests h2load meant to send that never got an answer
    late_share: float = 0.0  # answers slower than a connection's send interval (they delayed the next send)
    windows: int = 0  # windows of about WINDOW_SECONDS in the measured run
    worst_window_p99_ms: float = 0.0  # the highest p99 of any one window
    peak_sends: float = 0.0  # the most sends in one 10 ms slot ÷ the mean per slot: how bunched the schedule was
    argv: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (share 0.99 for p99); 0 for an empty list."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(share * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def connections_for(rate: float) -> int:
    """Enough connections that each sends at most once per CONNECTION_INTERVAL, within the bounds."""
    return max(LEAST_CONNECTIONS, min(MOST_CONNECTIONS, math.ceil(rate * CONNECTION_INTERVAL)))


def h2load_args(urls_file: Path, rate: float, seconds: float, headers: list[str], log: Path) -> list[str]:
    conns = connections_for(rate)
    per_conn = rate / conns
    # A connection sends its first request when it connects and the next ones on a timer from then on, so
    # connections opened together send together: they open evenly across one send interval instead.
    interval_ms = 1000 / per_conn
    period_ms = max(1, math.floor(interval_ms / conns))
    per_batch = math.ceil(conns * period_ms / interval_ms)
    argv = ["h2load", "--h1", "-m", "1", "-t", "1", "-c", str(conns), "--rps", f"{per_conn:.4f}"]
    argv += ["-n", str(max(conns, round(rate * seconds))), "-r", str(per_batch), "--rate-period", f"{period_ms}ms"]
    argv += ["-T", "30", "--log-file", str(log), "-i", str(urls_file)]
    for header in headers:
        argv += ["-H", header]
    return argv


def read_log(log: Path) -> list[tuple[int, int, int]]:
    """(start µs since the epoch, status or -1, µs to the end of the answer) per request."""
    rows = []
    for line in log.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 3:
            rows.append((int(fields[0]), int(fields[1]), int(fields[2])))
    return rows


def summarize(result: OpenLoopResult, rows: list[tuple[int, int, int]], warmup: float, interval: float) -> None:
    """Fill the result's figures from the log rows: the requests started after the warm-up, to the last start."""
    if not rows:
        return
    first = min(start for start, _, _ in rows)
    begin = first + warmup * 1e6
    kept = [row for row in rows if row[0] >= begin]
    if not kept:
        return
    span = (max(start for start, _, _ in kept) - begin) / 1e6
    latencies = sorted(took / 1000 for _, _, took in kept)
    result.requests = len(kept)
    result.achieved_rps = len(kept) / span if span > 0 else 0.0
    result.p50_ms = percentile(latencies, 0.50)
    result.p99_ms = percentile(latencies, 0.99)
    result.p999_ms = percentile(latencies, 0.999)
    result.max_ms = latencies[-1]
    result.non2xx = sum(1 for _, status, _ in kept if not 200 <= status < 400)
    result.late_share = sum(1 for took in latencies if took > interval * 1000) / len(latencies)
    window_p99s = [percentile(sorted(took / 1000 for _, _, took in part), 0.99) for part in _windows(kept, begin, span)]
    result.windows = len(window_p99s)
    result.worst_window_p99_ms = max(window_p99s, default=0.0)
    slots = Counter((start - begin) // SLOT_US for start, _, _ in kept)
    result.peak_sends = max(slots.values()) / (len(kept) / (int(span * 1e6) // SLOT_US + 1))


def _windows(kept: list[tuple[int, int, int]], begin: float, span: float) -> list[list[tuple[int, int, int]]]:
    """The rows cut by their start into windows of about WINDOW_SECONDS from `begin` (the last takes the rest)."""
    count = max(1, round(span / WINDOW_SECONDS))
    parts: list[list[tuple[int, int, int]]] = [[] for _ in range(count)]
    for row in kept:
        parts[min(count - 1, int((row[0] - begin) / 1e6 // WINDOW_SECONDS))].append(row)
    return [part for part in parts if part]


def measure(
    result: OpenLoopResult, urls: list[str], headers: list[str], seconds: float, warmup: float, work_dir: Path
) -> OpenLoopResult:
    """Send result.target_rps for warmup + seconds to the URLs (in turn, per connection) and fill the result."""
    urls_file = work_dir / f"openloop-{result.server}-{result.case}-urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    log = work_dir / f"openloop-{result.server}-{result.case}-{result.level:.2f}.tsv"
    log.unlink(missing_ok=True)
    argv = h2load_args(urls_file, result.target_rps, seconds + warmup, headers, log)
    result.argv = " ".join(argv)
    result.conns = int(argv[argv.index("-c") + 1])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + warmup + 120, check=False)
    match = SUMMARY.search(out.stdout)
    if not match or not log.exists():
        result.error = f"h2load printed no summary (exit {out.returncode}): {(out.stderr or out.stdout)[-300:]}"
        return result
    total, _, done, _, failed, errored, timeout = (int(g) for g in match.groups())
    result.failed = failed + errored + timeout
    result.not_done = total - done
    summarize(result, read_log(log), warmup, result.conns / result.target_rps)
    return result
