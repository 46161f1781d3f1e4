"""CPU time per login, in processes that each log in one time after another: commits compared side by side.

    python -m bench.login_cpu --at before=HEAD~3 --at after=HEAD --logins 1000 --rounds 5

Each round starts every variant at once, each in a fresh process (that commit's code, exported with
`git archive`), so that all of them live through the same moments of a machine other jobs load. A process
loads the service's WSGI application (project.wsgi: the middleware and API the server runs), logs in 200
times to warm up, then `--logins` times more, each a POST of a fresh code answered by the WeChat stand-in
(bench/wechat_bench.py: nine in ten are returning users), and reports its CPU time per login, user and
system (the kernel's share: mostly the sends and receives of the loopback round trips). No server and no
concurrency within a process: what the Gunicorn worker adds is the same for every variant, and a process's
CPU time moves less with what else runs than req/s (or a worker's CPU time under load) does.
"""

import argparse
import json
import subprocess
import sys
import uuid

from bench import fixture, run
from bench.ab import export_tree, print_ratios

WORKER = """
import io, json, os, sys
import django
django.setup()
from project.wsgi import application

appid, prefix, warmup, logins, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def login(n):
    body = json.dumps({"appid": appid, "code": f"{prefix}-{n}"}).encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/auth/login", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    status = []
    result = application(environ, lambda s, h, e=None: status.append(s))
    b"".join(result)
    if hasattr(result, "close"):
        result.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"login answered {status[0]}")

for n in range(warmup):
    login(n)
if profile:
    import cProfile, pstats
    profiler = cProfile.Profile()
    profiler.enable()
start = os.times()
for n in range(warmup, warmup + logins):
    login(n)
end = os.times()
if profile:
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats(profile == 1 and "tottime" or "cumulative").print_stats(40)
user, system = end.user - start.user, end.system - start.system
print(json.dumps({"user": 1000 * user / logins, "system": 1000 * system / logins}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--at", action="append", required=True, metavar="NAME=GITREF")
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="1: cProfile by own time, 2: cumulative (to stderr)")
    parser.add_argument("--delay-ms", type=float, default=0, help="the stand-in's delay before each answer")
    args = parser.parse_args()
    fixture.exit_cleanly_on_signals()

    run_dir = fixture.new_run_dir()
    run_dir.chmod(0o755)
    (run_dir / "logs").mkdir()
    data = fixture.BenchData(uuid.uuid4().hex[:8], run_dir)
    trees = {}
    standin = None
    results: dict[str, list[float]] = {}
    try:
        for item in args.at:
            name, ref = item.split("=", 1)
            trees[name] = export_tree(ref, run_dir / "trees" / name)
        seed = data.create("quick")
        standin, base = run.start_standin(run_dir, data, seed)
        if args.delay_ms:
            from bench import slow_upstream

            slow_upstream.set_delay(base, args.delay_ms)
        env = data.env(RATE_LOGIN_PER_IP="1000000000", RATE_LOGIN_PER_APP="1000000000", WECHAT_API_BASE=base)
        for round_no in range(1, args.rounds + 1):
            # Every variant at once, each in its own process: they share whatever else the machine runs.
            running = {
                name: subprocess.Popen(
                    [sys.executable, "-c", WORKER, seed["appid"], f"bench-cpu-{uuid.uuid4().hex[:8]}", "200"]
                    + [str(args.logins), str(args.profile)],
                    cwd=tree,
                    env={**env, "PYTHONPATH": str(tree)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for name, tree in trees.items()
            }
            for name, process in running.items():
                stdout, stderr = process.communicate(timeout=1200)
                if process.returncode:
                    raise RuntimeError(f"{name}: exit {process.returncode}\n{stderr[-3000:]}")
                if args.profile:
                    print(stderr[-12000:], flush=True)
                cpu = json.loads(stdout.strip().splitlines()[-1])
                cpu["total"] = cpu["user"] + cpu["system"]
                for kind, ms in cpu.items():
                    results.setdefault((name, kind), []).append(ms)
                print(
                    f"round {round_no} {name:>10} {cpu['total']:7.3f} ms CPU per login "
                    f"(user {cpu['user']:.3f}, system {cpu['system']:.3f})",
                    flush=True,
                )
        first = next(iter(trees))
        for kind in ("total", "user", "system"):
            print(f"\nmedian {kind} CPU ms per login over {args.rounds} rounds of {args.logins}; ratio to {first}")
            print_ratios("", {name: results[(name, kind)] for name in trees}, digits=3)
    finally:
        run.stop_standin(standin)
        data.destroy()


if __name__ == "__main__":
    main()
