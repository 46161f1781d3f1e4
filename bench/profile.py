"""Profile one case on the service with py-spy, or hold a seeded server up for poking at by hand.

    python -m bench.profile --case db_redis --conns 100 --seconds 10   # writes a py-spy flame graph (SVG)
    python -m bench.profile --hold 120                                 # prints the URL and token, waits

Same data, environment and server as `make bench` (bench/run.py); cleans up the same way.
"""

import argparse
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench import fixture, load, run, servers

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="json", choices=run.ALL_CASES)
    parser.add_argument("--server", default="gevent")
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", default="quick", choices=("full", "quick", "tiny"))
    parser.add_argument("--hold", type=int, default=0, help="keep the server up this long instead of profiling")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--raw", action="store_true", help="collapsed stacks (text) instead of an SVG")
    parser.add_argument("--env", nargs="*", default=[], help="extra NAME=VALUE for the server")
    args = parser.parse_args()
    fixture.exit_cleanly_on_signals()

    run_id = uuid.uuid4().hex[:8]
    run_dir = fixture.new_run_dir()
    run_dir.chmod(0o755)
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(run_id, run_dir)
    server = standin = None
    try:
        seed = data.create(args.size)
        cases = run.define_cases(seed, run_id)
        env = data.env(RATE_LOGIN_PER_IP="1000000000", RATE_LOGIN_PER_APP="1000000000")
        env.update(item.split("=", 1) for item in args.env)
        if args.case == "login":
            standin, env["WECHAT_API_BASE"] = run.start_standin(run_dir, data, seed)
        kind = args.server
        if args.case == "board_uncached":
            env["BENCH_WSGI_APP"] = "bench.wsgi_uncached:application"
        server = servers.start(kind, env, run_dir, "/api/health")
        case = cases[args.case]
        print(f"server {server.url(case.path)} token {seed['token']} run dir {run_dir}", flush=True)
        if args.hold:
            time.sleep(args.hold)
            return
        out = args.out / f"profile-{args.case}-{kind}-c{args.conns}.{'txt' if args.raw else 'svg'}"
        spy = subprocess.Popen(
            [
                str(servers.BIN / "py-spy"),
                "record",
                "--pid",
                str(server.process.pid),
                "--subprocesses",
                "--duration",
                str(args.seconds + 1),
                "--rate",
                "200",
                "--nonblocking",
                *(["--format", "raw"] if args.raw else []),
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        data_ = load.run_wrk(server.url(case.path), args.conns, args.seconds, case.script, case.headers)
        spy.wait(timeout=120)
        print({k: data_[k] for k in ("requests", "status", "p50_us", "p99_us")}, f"flame graph: {out}", flush=True)
    finally:
        if server:
            server.stop()
        run.stop_standin(standin)
        data.destroy()


if __name__ == "__main__":
    main()
