"""`make soak`: the whole stack under a mixed load for a while, with reloads and a Redis restart.

    python -m bench.soak --seconds 600 --out bench/results

Runs the Supervisor stack on a private MariaDB and a private Redis
(tests/faults/stack.py), drives reads, posts, likes and logins at it, sends
`supervisorctl signal HUP all` every minute and restarts Redis without its data
once, in the middle. Then it waits for the jobs to settle and checks: no lost
write (every post answered 201 is stored), no lost job (every outbox row
closed, none failed), no duplicate (one message and one moderation call per
post), no program FATAL. Writes soak-<date>.md and soak-<date>.png (requests/s,
errors, jobs enqueued vs done, MySQL connections, RSS over time); exits 1 if a
check fails.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.load import MixedLoad
from tests.faults.stack import APPID, CONF, FaultStack, start_fault_stack
from tests.runtime.stack import supervisorctl
from tests.support import free_port

SAMPLE_EVERY = 2.0
HUP_EVERY = 60.0
REDIS_DOWN_SECONDS = 5.0
SETTLE_SECONDS = 240.0


@dataclass
class Sample:
    at: float
    answers: int
    errors: int
    enqueued: int
    done: int
    mysql_connections: int
    rss_mb: float


@dataclass
class Soak:
    stack: FaultStack
    load: MixedLoad
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    states_seen: Counter = field(default_factory=Counter)

    def event(self, what: str) -> None:
        self.events.append((time.monotonic() - self.started, what))
        print(f"[{time.monotonic() - self.started:6.1f}s] {what}", flush=True)

    def sample(self) -> None:
        answers = list(self.load.answers)
        errors = sum(1 for a in answers if not (isinstance(a.status, int) and a.status < 400))
        try:
            outbox = dict(self.stack.sql("SELECT finished_at IS NOT NULL, COUNT(*) FROM corelib_outboxjob GROUP BY 1"))
            connections = int(self.stack.mariadb.query(None, "SHOW STATUS LIKE 'Threads_connected'")[0][1])
        except Exception:  # MariaDB is never stopped here, but a sample must not end the soak
            outbox, connections = {}, 0
        self.samples.append(
            Sample(
                at=time.monotonic() - self.started,
                answers=len(answers),
                errors=errors,
                enqueued=sum(outbox.values()),
                done=outbox.get(1, 0),
                mysql_connections=connections,
                rss_mb=stack_rss_mb(self.stack),
            )
        )
        self.states_seen.update(self.stack.states().values())


def _descendants(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def stack_rss_mb(stack: FaultStack) -> float:
    """Resident memory of supervisord and everything under it."""
    pid_file = stack.checkout / "pids/supervisord-test.pid"
    total_kb = 0
    for pid in _descendants(int(pid_file.read_text().strip())):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def run(seconds: float, soak: Soak) -> None:
    next_hup = HUP_EVERY
    redis_restart_at = seconds / 2 + HUP_EVERY / 4  # the middle, but not on top of a HUP
    redis_restarted = False
    with soak.load:
        while (elapsed := time.monotonic() - soak.started) < seconds:
            soak.sample()
            if elapsed >= next_hup:
                soak.event("supervisorctl signal HUP all")
                supervisorctl(soak.stack.checkout, CONF, "signal", "HUP", "all", env=soak.stack.env)
                next_hup += HUP_EVERY
            if not redis_restarted and elapsed >= redis_restart_at:
                soak.event(f"Redis stopped ({REDIS_DOWN_SECONDS:g} s), restarted without its data")
                soak.stack.redis.stop()
                time.sleep(REDIS_DOWN_SECONDS)  # the outage itself
                soak.stack.redis.start()
                redis_restarted = True
            time.sleep(SAMPLE_EVERY)
    soak.event("load stopped")


def settle_and_check(soak: Soak) -> dict[str, int]:
    """Wait for every job to finish, then count what was lost or duplicated."""
    posted = set(soak.load.posts(201))
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        soak.sample()
        open_rows = soak.stack.sql("SELECT COUNT(*) FROM corelib_outboxjob WHERE finished_at IS NULL")[0][0]
        if open_rows == 0:
            break
        time.sleep(SAMPLE_EVERY)
    soak.event("jobs settled")
    stored = Counter(
        row[0] for row in soak.stack.sql("SELECT content FROM boards_message WHERE board_id = %s", [soak.load.board_id])
    )
    checks = Counter(call["body"].get("content") for call in soak.stack.wechat_calls("/wxa/msg_sec_check"))
    outbox = dict(soak.stack.sql("SELECT COALESCE(state, 'untracked'), COUNT(*) FROM corelib_outboxjob GROUP BY 1"))
    return {
        "posts answered 201": len(posted),
        "lost writes": len(posted - set(stored)),
        "duplicate messages": sum(1 for content in posted if stored[content] > 1),
        "jobs": sum(outbox.values()),
        "jobs finished": outbox.get("finished", 0),
        "jobs failed": outbox.get("failed", 0),
        "lost jobs (still open)": sum(count for state, count in outbox.items() if state not in ("finished", "failed")),
        "duplicate moderations": sum(1 for content in posted if checks[content] > 1),
        "posts never moderated": sum(1 for content in posted if checks[content] == 0),
        "FATAL states seen": soak.states_seen.get("FATAL", 0),
    }


def chart(soak: Soak, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = soak.samples
    times = [s.at for s in samples]
    rates = [0.0] + [
        (b.answers - a.answers) / max(b.at - a.at, 1e-6) for a, b in zip(samples, samples[1:], strict=False)
    ]
    figure, axes = plt.subplots(5, 1, figsize=(10, 13), sharex=True)
    series = [
        ("requests/s", rates),
        ("errors (cumulative)", [s.errors for s in samples]),
        ("jobs", None),
        ("MySQL connections", [s.mysql_connections for s in samples]),
        ("RSS of the stack (MB)", [s.rss_mb for s in samples]),
    ]
    for axis, (title, values) in zip(axes, series, strict=True):
        if values is None:
            axis.plot(times, [s.enqueued for s in samples], label="enqueued")
            axis.plot(times, [s.done for s in samples], label="done")
            axis.legend()
        else:
            axis.plot(times, values)
        axis.set_title(title)
        for at, _ in soak.events:
            axis.axvline(at, color="grey", linewidth=0.5)
    axes[-1].set_xlabel("seconds")
    figure.tight_layout()
    figure.savefig(path)


def report(soak: Soak, seconds: float, results: dict[str, int], out: Path) -> Path:
    stamp = datetime.date.today().isoformat()
    png, md = out / f"soak-{stamp}.png", out / f"soak-{stamp}.md"
    chart(soak, png)
    summary = MixedLoad.summary(soak.load.answers)
    lines = [
        f"# Soak, {stamp}: {seconds:g} s of mixed load",
        "",
        f"Command: `python -m bench.soak --seconds {seconds:g}`. Private MariaDB and Redis, Supervisor stack",
        "(2 Gunicorn workers, ten RQ workers, the scheduler), 6 client threads.",
        "",
        "## Answers by kind",
        "",
        *[f"- {kind}: {dict(counts)}" for kind, counts in sorted(summary.items())],
        "",
        "## Events",
        "",
        *[f"- {at:.0f} s: {what}" for at, what in soak.events],
        "",
        "## Checks",
        "",
        *[f"- {name}: {value}" for name, value in results.items()],
        "",
        f"![chart]({png.name})",
        "",
    ]
    md.write_text("\n".join(lines))
    return md


def failed(results: dict[str, int]) -> list[str]:
    must_be_zero = (
        "lost writes",
        "duplicate messages",
        "jobs failed",
        "lost jobs (still open)",
        "duplicate moderations",
        "posts never moderated",
        "FATAL states seen",
    )
    return [name for name in must_be_zero if results[name]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)

    from devtools import wechat_standin

    server = wechat_standin.make_server(free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wechat = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="soak-") as root:
        stack = start_fault_stack(Path(root), wechat)
        try:
            load = MixedLoad(stack.url, wechat, APPID)
            load.prepare()
            soak = Soak(stack, load)
            soak.event("load started")
            run(options.seconds, soak)
            results = settle_and_check(soak)
            path = report(soak, options.seconds, results, options.out)
        finally:
            stack.stop()
            server.shutdown()
    print(path.read_text())
    problems = failed(results)
    if problems:
        print("FAILED:", ", ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
