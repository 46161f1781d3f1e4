"""Interleaved A/B of server variants on one seeded database: which change pays, as ratios in the same run.

    python -m bench.ab --case db_redis --conns 10 1000 --rounds 3 --variant orm_pk --variant base

A variant is a name from VARIANTS (extra environment for the service). Each round starts every variant in
turn, warms it 2 s and runs wrk; the table gives each variant's req/s per round and its median as a ratio
of the first variant's. With --spread it also counts, mid-run, the established connections each worker holds
(how the kernel spread the clients over the workers).
"""

import argparse
import os
import statistics
import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path

from bench import fixture, load, run, servers

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


def spread(port: int) -> list[int]:
    """Established server-side connections on `port`, per owning process, largest first."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True, check=False
    ).stdout
    owners = Counter(part.split("pid=")[1].split(",")[0] for part in out.split() if "pid=" in part)
    return sorted(owners.values(), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="db_redis", choices=run.ALL_CASES)
    parser.add_argument("--conns", type=int, nargs="+", default=[100])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", required=True, choices=sorted(VARIANTS))
    parser.add_argument("--env", nargs="*", default=[], help="extra NAME=VALUE for every variant")
    parser.add_argument("--spread", action="store_true")
    args = parser.parse_args()
    fixture.exit_cleanly_on_signals()

    run_dir = fixture.new_run_dir()
    run_dir.chmod(0o755)
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(uuid.uuid4().hex[:8], run_dir)
    results: dict[tuple[str, int], list[float]] = {}
    try:
        seed = data.create("quick")
        case = run.define_cases(seed, "ab")[args.case]
        base_env = data.env(RATE_LOGIN_PER_IP="1000000000", RATE_LOGIN_PER_APP="1000000000")
        base_env.update(item.split("=", 1) for item in args.env)
        for round_no in range(1, args.rounds + 1):
            for name in args.variant:
                server = servers.start("gevent", {**base_env, **VARIANTS[name]}, run_dir, "/api/health")
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
                        out = load.run_wrk(server.url(case.path), conns, args.seconds, case.script, case.headers)
                        rps = out["requests"] / out["duration_us"] * 1e6
                        results.setdefault((name, conns), []).append(rps)
                        bad = out.get("status", 0)
                        errors = sum(out.get(k, 0) for k in ("connect", "read", "write", "timeout"))
                        extra = f" per-worker connections {counts}" if args.spread else ""
                        print(
                            f"round {round_no} {name:>10} c={conns:<5} {rps:8.0f} req/s p99 "
                            f"{out['p99_us'] / 1000:7.1f} ms non2xx {bad} sockerr {errors}{extra}",
                            flush=True,
                        )
                finally:
                    server.stop()
        first = args.variant[0]
        print(f"\nmedian req/s over {args.rounds} rounds ({args.case}); ratio to {first} of the same concurrency")
        for conns in args.conns:
            ref = statistics.median(results[(first, conns)])
            for name in args.variant:
                values = results[(name, conns)]
                med = statistics.median(values)
                spread_pct = 100 * (max(values) - min(values)) / med
                print(f"  c={conns:<5} {name:>10} {med:8.0f}  x{med / ref:5.2f}  (rounds spread {spread_pct:.0f}%)")
    finally:
        data.destroy()


if __name__ == "__main__":
    main()
