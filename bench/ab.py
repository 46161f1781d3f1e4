"""Interleaved A/B of server variants on one seeded database: which change pays, as ratios in the same run.

    python -m bench.ab --case db_redis --conns 10 1000 --rounds 3 --variant orm_pk --variant base
    python -m bench.ab --case login --conns 100 --rounds 5 --at before=HEAD~1 --variant base --cpu

A variant is a name from VARIANTS (extra environment for the service), or `--at NAME=GITREF`: the service
as it was at that commit (exported with `git archive` into the run directory; the bench code and
gunicorn.conf.py come from that commit too). Each round starts every variant in turn, warms it 2 s and
runs wrk; the table gives each variant's req/s per round and its median as a ratio of the first variant's.
With --cpu it also gives the CPU time (user + system, from /proc) the Gunicorn workers spent per answered
request over the measured run, drained: on a shared machine a steadier figure than req/s, which moves with
whatever else runs. With --spread it also counts, mid-run, the established connections each worker holds
(how the kernel spread the clients over the workers). The login cases and post_moderated run against the
WeChat stand-in (bench/wechat_bench.py), with their delay; post_moderated on bench/wsgi_moderated.py.
"""

import argparse
import os
import statistics
import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path

from bench import fixture, load, run, servers, slow_upstream

ROOT = Path(__file__).resolve().parent.parent
SHADOW = ROOT / "bench" / "shadow_hiredis"

VARIANTS = {
    "base": {},
    # The db_redis probe reading through the ORM, as before corelib.db.pk_read.
    "orm_pk": {"BENCH_WSGI_APP": "bench.wsgi_orm_pk:application"},
    # redis-py with its pure-Python parser even where hiredis is installed.
    "no_hiredis": {"PYTHONPATH": f"{SHADOW}{os.pathsep}{ROOT}"},
    # The board page's token checked by ninja before the view: a GET, then the board's MGET.
    "board_two_trips": {"BENCH_WSGI_APP": "bench.wsgi_board_two_trips:application"},
    # Fewer MySQL connections per worker: fewer queries in flight for the server's threads to contend over.
    "pool2": {"DB_POOL_SIZE": "2"},
    "pool4": {"DB_POOL_SIZE": "4"},
    # Each Gunicorn worker loads the app itself instead of being forked from its generation's app template.
    "own_app": {"GUNICORN_SHARED_APP": "0"},
}


def print_ratios(label: str, values_by_name: dict[str, list[float]], digits: int) -> None:
    """Each variant's median over its rounds, as a ratio of the first variant's, and how far its rounds spread."""
    ref = statistics.median(next(iter(values_by_name.values())))
    for name, values in values_by_name.items():
        med = statistics.median(values)
        spread_pct = 100 * (max(values) - min(values)) / med
        print(f"  {label}{name:>10} {med:8.{digits}f}  x{med / ref:5.2f}  (rounds spread {spread_pct:.0f}%)")


def spread(port: int) -> list[int]:
    """Established server-side connections on `port`, per owning process, largest first."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, check=False
    ).stdout
    owners = Counter(part.split("pid=")[1].split(",")[0] for part in out.split() if "pid=" in part)
    return sorted(owners.values(), reverse=True)


def worker_cpu_seconds(server: servers.Server) -> float:
    """User + system CPU time of the server's workers (the master aside), from /proc/<pid>/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in server.tree_pids():
        if pid == server.process.pid:
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return total / ticks


def export_tree(ref: str, into: Path) -> Path:
    """The repository as it was at `ref`, as plain files (no .git): a server variant's code."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="db_redis", choices=run.ALL_CASES)
    parser.add_argument("--conns", type=int, nargs="+", default=[100])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS))
    parser.add_argument("--at", action="append", default=[], metavar="NAME=GITREF", help="the service at a commit")
    parser.add_argument("--cpu", action="store_true", help="workers' CPU time per request")
    parser.add_argument("--env", nargs="*", default=[], help="extra NAME=VALUE for every variant")
    parser.add_argument("--spread", action="store_true")
    args = parser.parse_args()
    if not args.variant and not args.at:
        parser.error("give at least one --variant or --at")
    fixture.exit_cleanly_on_signals()

    run_dir = fixture.new_run_dir()
    run_dir.chmod(0o755)
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(uuid.uuid4().hex[:8], run_dir)
    results: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    roots = {name: ROOT for name in args.variant}
    envs = {name: VARIANTS[name] for name in args.variant}
    standin = None
    try:
        for item in args.at:
            name, ref = item.split("=", 1)
            roots[name] = export_tree(ref, run_dir / "trees" / name)
            envs[name] = {"PYTHONPATH": str(roots[name])}
        names = list(roots)
        seed = data.create("quick")
        case = run.define_cases(seed, "ab")[args.case]
        base_env = data.env(RATE_LOGIN_PER_IP="1000000000", RATE_LOGIN_PER_APP="1000000000")
        base_env.update(item.split("=", 1) for item in args.env)
        if case.upstream_delay_ms or case.path == "/api/v1/auth/login":
            standin, base_env["WECHAT_API_BASE"] = run.start_standin(run_dir, data, seed)
            slow_upstream.set_delay(base_env["WECHAT_API_BASE"], case.upstream_delay_ms)
        for round_no in range(1, args.rounds + 1):
            for name in names:
                app = slow_upstream.MODERATED_APP if args.case == "post_moderated" else None
                server = servers.start(
                    "gevent", {**base_env, **envs[name]}, run_dir, "/api/health", root=roots[name], app=app
                )
                try:
                    for conns in args.conns:
                        load.wait_until_closed(server.port)
                        load.run_wrk(server.url(case.path), conns, 2, case.script, case.headers)
                        load.wait_until_closed(server.port)
                        counts: list[int] = []
                        if args.spread:
                            port = server.port
                            timer = threading.Timer(args.seconds / 2, lambda c=counts, p=port: c.extend(spread(p)))
                            timer.start()
                        cpu_before = worker_cpu_seconds(server)
                        out = load.run_wrk(server.url(case.path), conns, args.seconds, case.script, case.headers)
                        rps = out["requests"] / out["duration_us"] * 1e6
                        results.setdefault((name, conns), []).append(rps)
                        bad = out.get("status", 0)
                        errors = sum(out.get(k, 0) for k in ("connect", "read", "write", "timeout"))
                        extra = f" per-worker connections {counts}" if args.spread else ""
                        if args.cpu:
                            load.wait_until_closed(server.port)  # the requests still in flight finish on the clock
                            ms = 1000 * (worker_cpu_seconds(server) - cpu_before) / max(1, out["requests"])
                            cpu.setdefault((name, conns), []).append(ms)
                            extra += f" cpu {ms:.3f} ms/req"
                        print(
                            f"round {round_no} {name:>10} c={conns:<5} {rps:8.0f} req/s p99 "
                            f"{out['p99_us'] / 1000:7.1f} ms non2xx {bad} sockerr {errors}{extra}",
                            flush=True,
                        )
                finally:
                    server.stop()
        first = names[0]
        print(f"\nmedian req/s over {args.rounds} rounds ({args.case}); ratio to {first} of the same concurrency")
        for conns in args.conns:
            print_ratios(f"c={conns:<5} ", {name: results[(name, conns)] for name in names}, digits=0)
        if args.cpu:
            print(f"\nmedian worker CPU ms per request over {args.rounds} rounds; ratio to {first}")
            for conns in args.conns:
                print_ratios(f"c={conns:<5} ", {name: cpu[(name, conns)] for name in names}, digits=3)
    finally:
        run.stop_standin(standin)
        data.destroy()


if __name__ == "__main__":
    main()
