"""`make bench`: start the service and its baselines, drive load with wrk and ab, write the report and chart.

    python -m bench.run [--mode full|quick|tiny] [--out DIR] [--memory-only [--memory-load SECONDS]]

Everything it measures it starts itself, against its own databases and Redis
index (bench/fixture.py), and it removes them at the end. See bench/README.md.
"""

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
import requests

from apps.probes.document import json_document
from bench import fixture, load, memory, openloop, reload, report, servers, slow_upstream

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("sync", "gthread", "uwsgi", "granian")
RELOAD_CONNS = 100
RELOAD_MIN_WINDOW = 2.0  # seconds: a HUP window lasts at least this long, however fast the rollout


@dataclass
class Mode:
    conns: tuple[int, ...]
    seconds: float
    warmup: float
    cases: tuple[str, ...]
    peers: tuple[str, ...]
    peer_cases: tuple[str, ...]
    baselines: bool
    ab_cases: tuple[str, ...]
    ab_conns: tuple[int, ...]
    ab_seconds: int
    seed: str
    memory_load: float | None = None  # seconds of mixed load on the whole stack in the memory case (None: no case)
    reload_hups: int = 0  # HUPs per arbiter in the reload case (0: no case)
    reload_settle: float = 3.0  # seconds of load outside HUP windows before the first HUP and after each rollout
    openloop_cases: tuple[str, ...] = ()  # cases sent at a fixed rate (bench/openloop.py) after their wrk runs
    slow_servers: tuple[str, ...] = ()  # server kinds that run the slow-upstream cases (bench/slow_upstream.py)
    thread_sweep: tuple[int, ...] = ()  # thread counts given gthread and granian on login_slow at the top concurrency
    slow_seconds: float = 0  # seconds per slow-upstream point, when longer than `seconds` (see bench/slow_upstream.py)
    # Seconds per open-loop point, when longer than `seconds`: a p99 over 30 s is not decided by one stall of the
    # kind a 10 s run on two shared cores sometimes meets; the report gives each 10 s window's worst p99 beside it.
    openloop_seconds: float = 0


ALL_CASES = ("json", "db_redis", "board_cached", "board_uncached", "login", *slow_upstream.CASES)
OPENLOOP_CASES = ("json", "db_redis", "board_cached")
OPENLOOP_LEVELS = (0.5, 0.8)  # shares of a case's best closed-loop rate on the service
MODES = {
    "full": Mode(
        (10, 100, 1000),
        8,
        2,
        ALL_CASES,
        PEERS,
        ("json", "db_redis", "board_cached"),
        True,
        ("json", "db_redis"),
        (100, 2000),
        10,
        "full",
        600,
        3,
        5.0,
        OPENLOOP_CASES,
        ("gevent", *PEERS),
        slow_upstream.THREAD_SWEEP,
        slow_upstream.FULL_SECONDS,
        30,
    ),
    "quick": Mode(
        (100, 1000),
        3,
        1,
        ALL_CASES,
        (),
        (),
        True,
        ("json",),
        (100,),
        2,
        "quick",
        30,
        3,
        3.0,
        OPENLOOP_CASES,
        ("gevent", "sync"),
    ),
    "tiny": Mode((10,), 1, 0, ("json",), (), (), True, (), (), 1, "tiny"),
}


@dataclass
class Case:
    name: str
    path: str
    method: str = "GET"
    script: list[str] = field(default_factory=lambda: ["fixed"])
    headers: list[str] = field(default_factory=list)
    body: str | None = None
    upstream_delay_ms: float = 0  # the WeChat stand-in's delay while this case runs
    settle_timeout: float = 10.0  # seconds the server may take to drain a run's connections before the next
    min_seconds: float = 0  # the case's points last at least this long, whatever the mode's `seconds`


def define_cases(seed: dict, run_id: str) -> dict[str, Case]:
    first, last = seed["mini_program_ids"]
    db_redis = Case("db_redis", f"/api/probe/db-redis/{first}")
    if first == 1:  # a fresh database: ids 1..last, so wrk can pick one at random per request
        db_redis.script = ["ids", "/api/probe/db-redis/", str(last)]
    board = f"/api/v1/boards/{seed['board_id']}/messages"
    auth = [f"Authorization: Bearer {seed['token']}"]
    login_body = json.dumps({"appid": seed["appid"], "code": f"bench-{run_id}-preflight"})
    post = f"/api/v1/boards/{seed['post_board_id']}/messages"
    post_body = json.dumps({"content": "bench: 今天的留言 👋"})  # ASCII escapes: wrk and requests send it as is
    return {
        "json": Case("json", "/api/probe/json"),
        "db_redis": db_redis,
        "board_cached": Case("board_cached", board, headers=auth),
        "board_uncached": Case("board_uncached", board, headers=auth),
        "login": Case(
            "login",
            "/api/v1/auth/login",
            "POST",
            ["login", "/api/v1/auth/login", seed["appid"], f"bench-{run_id}"],
            body=login_body,
        ),
        "static": Case("json", "/probe.json"),
        # The slow-upstream cases (bench/slow_upstream.py): WeChat answers after a delay.
        "login_slow": Case(
            "login_slow",
            "/api/v1/auth/login",
            "POST",
            ["login", "/api/v1/auth/login", seed["appid"], f"bench-{run_id}-slow"],
            body=json.dumps({"appid": seed["appid"], "code": f"bench-{run_id}-slow-preflight"}),
            upstream_delay_ms=slow_upstream.DELAY_MS,
            settle_timeout=slow_upstream.SETTLE_TIMEOUT,
        ),
        "post_moderated": Case(
            "post_moderated",
            post,
            "POST",
            ["post", post, post_body],
            headers=auth,
            body=post_body,
            upstream_delay_ms=slow_upstream.DELAY_MS,
            settle_timeout=slow_upstream.SETTLE_TIMEOUT,
        ),
    }


def preflight(server: servers.Server, case: Case) -> str:
    """'' when the case answers 200 on this server; else why not (the case is then reported as not run)."""
    headers = dict(h.split(": ", 1) for h in case.headers)
    try:
        if case.method == "POST":
            headers["Content-Type"] = "application/json"
            answer = requests.post(server.url(case.path), data=case.body, headers=headers, timeout=10)
        else:
            answer = requests.get(server.url(case.path), headers=headers, timeout=10)
    except requests.RequestException as error:
        return f"preflight failed: {error}"
    if answer.status_code not in (200, 201):  # a post answers 201 Created
        return f"preflight answered {answer.status_code}: {answer.text[:160]}"
    return ""


class Bench:
    def __init__(
        self, mode_name: str, out_dir: Path, only_cases: list[str] | None, reload_hups: int | None = None
    ) -> None:
        self.mode_name = mode_name
        self.mode = MODES[mode_name]
        if only_cases:
            self.mode.cases = tuple(c for c in self.mode.cases if c in only_cases)
            if "reload" not in only_cases:
                self.mode.reload_hups = 0
            if only_cases == ["reload"]:  # the reload case alone: no baselines, ab or memory either
                self.mode.baselines, self.mode.ab_cases, self.mode.memory_load = False, (), None
            self.mode.openloop_cases = tuple(c for c in self.mode.openloop_cases if c in self.mode.cases)
        if reload_hups is not None:
            self.mode.reload_hups = reload_hups
        self.out_dir = out_dir
        self.run_id = uuid.uuid4().hex[:8]
        self.run_dir = fixture.new_run_dir()
        self.run_dir.chmod(0o755)  # nginx's workers (user nobody when started as root) read the static file here
        (self.run_dir / "logs").mkdir()
        self.data = fixture.BenchData(self.run_id, self.run_dir)
        self.results: list[load.Result] = []
        self.ab_rows: list[dict] = []
        self.servers_info: dict[str, str] = {}
        self.notes: list[str] = []
        self.memory: dict | None = None
        self.reload_rows: list[dict] = []
        self.openloop_rows: list[dict] = []
        self.standin_base = ""
        self.standin_ceiling: list[dict] = []
        self.thread_sweep: list[dict] = []
        self.started = time.monotonic()
        self.step = 0
        self.total = 0

    def say(self, message: str) -> None:
        print(f"[bench {time.monotonic() - self.started:6.1f}s] {message}", flush=True)

    # --- the run -------------------------------------------------------------------------
    def run(self) -> Path:
        load.ensure_tools(need_ab=bool(self.mode.ab_cases), need_h2load=bool(self.mode.openloop_cases))
        _raise_nofile()
        self.say(f"mode {self.mode_name}; run dir {self.run_dir}; creating bench_{self.run_id} databases and seeding")
        standin = None
        try:
            seed = self.data.create(self.mode.seed)
            self.seed = seed
            self.say(
                f"seeded: {seed['messages']} messages ({seed['board_messages']} on the hot board), "
                f"{seed['users']} users, {seed['likes']} likes"
            )
            self.cases = define_cases(seed, self.run_id)
            # login is the denominator of login_slow's ratio: measured over as long a run (bench/slow_upstream.py).
            self.cases["login"].min_seconds = self.mode.slow_seconds
            # Rate limits lifted: the login case sends thousands of logins a minute from one IP for one appid,
            # and would otherwise measure the limiter's 429s. The limiter still runs on every call.
            env = self.data.env(RATE_LOGIN_PER_IP="1000000000", RATE_LOGIN_PER_APP="1000000000")
            env.update(slow_upstream.LIFTED_WRITE_LIMITS)
            if {"login", *slow_upstream.CASES} & set(self.mode.cases):
                standin, base = start_standin(self.run_dir, self.data, seed)
                env["WECHAT_API_BASE"] = base
                self.standin_base = base
                self.standin_ceiling = slow_upstream.measure_standin(self, base, seed)
            self.env = env
            self._measure_all()
            if self.mode.reload_hups:
                self._measure_reload()
        finally:
            stop_standin(standin)
            self.data.destroy()
            self.say("bench databases dropped, Redis index flushed and released")
        if self.mode.memory_load is not None:
            self._measure_memory()
        return self._write()

    def _measure_memory(self) -> None:
        """The memory case: the whole Supervisor stack, idle, then under mixed load (bench/memory.py)."""
        self.say(f"memory: whole stack idle, then {self.mode.memory_load:.0f} s of mixed load")
        self.memory = memory.measure(20, self.mode.memory_load, None, {})
        self.say("memory: " + report.memory_line(self.memory))

    def _measure_reload(self) -> None:
        """The reload case: the same load and HUPs against Gunicorn's stock master, then the RollingArbiter."""
        first, last = self.seed["mini_program_ids"]
        ids = range(first, last + 1) if first == 1 else [first]
        paths = [f"/api/probe/db-redis/{i}" for i in ids]
        for arbiter in ("stock", "rolling"):
            kind = f"reload_{arbiter}"
            self.say(f"reload: {arbiter} arbiter, db_redis at c={RELOAD_CONNS}, {self.mode.reload_hups} HUPs")
            env = dict(self.env)
            if arbiter == "stock":
                env["BENCH_ARBITER"] = "stock"
            try:
                server = servers.start("gevent", env, self.run_dir, "/api/health")
            except (RuntimeError, TimeoutError) as error:
                self.reload_rows.append(reload.ReloadResult(arbiter, RELOAD_CONNS, 0, error=str(error)[:300]).as_dict())
                continue
            server.name = kind
            self.servers_info[kind] = server.info + f", {arbiter} arbiter"
            try:
                row = reload.measure(
                    server,
                    arbiter,
                    paths,
                    RELOAD_CONNS,
                    self.mode.reload_hups,
                    self.mode.reload_settle,
                    RELOAD_MIN_WINDOW,
                )
            finally:
                server.stop()
            self.reload_rows.append(row.as_dict())
            self.say("reload: " + report.reload_line(row.as_dict()))
            time.sleep(1)

    def _plan(self) -> list[tuple[str, str, list[str]]]:
        """(server kind, health path, cases) in the order they run."""
        m = self.mode
        main = [c for c in m.cases if c != "board_uncached" and c not in slow_upstream.CASES]
        plan = [("gevent", "/api/health", main)] if main else []
        if "board_uncached" in m.cases:
            plan.append(("gevent_uncached", "/api/health", ["board_uncached"]))
        if m.baselines:
            plan += [("bare", "/", ["json"]), ("nginx", "/probe.json", ["static"])]
            if "db_redis" in m.cases:
                plan.append(("bare_db_redis", "/", ["db_redis"]))
        for peer in m.peers:
            peer_cases = [c for c in m.peer_cases if c in m.cases]
            if not peer_cases:  # e.g. only the slow-upstream cases asked for: they start their own instances
                continue
            if servers.available(peer):
                plan.append((peer, "/api/health", peer_cases))
            else:
                self.notes.append(f"peer {peer} not installed (make bench installs bench/requirements.txt): skipped")
        return plan

    def _measure_all(self) -> None:
        plan = self._plan()
        self.total = sum(len(cases) for _, _, cases in plan) * len(self.mode.conns)
        self.total += slow_upstream.steps(self)
        for kind, health, cases in plan:
            self.say(f"starting {kind}")
            server = self._start(kind, health)
            self.servers_info[kind] = server.info
            try:
                for case_name in cases:
                    self._measure_case(server, kind, self.cases[case_name])
                if kind == "gevent":
                    self._ab(server)
                    self._open_loop(server)
                if kind == "nginx" and self.mode.openloop_cases:
                    self._validate_open_loop(server)
            finally:
                server.stop()
            time.sleep(1)
        slow_upstream.measure_all(self)

    def _start(self, kind: str, health: str) -> servers.Server:
        env = dict(self.env)
        real = kind
        if kind == "gevent_uncached":
            env["BENCH_WSGI_APP"], real = "bench.wsgi_uncached:application", "gevent"
        if kind == "nginx":
            (self.run_dir / "static").mkdir(exist_ok=True)
            (self.run_dir / "static" / "probe.json").write_bytes(orjson.dumps(json_document()))
        server = servers.start(real, env, self.run_dir, health)
        server.name = kind
        return server

    def _measure_case(
        self, server: servers.Server, kind: str, case: Case, conns_list: tuple[int, ...] | None = None
    ) -> None:
        if self.standin_base:
            slow_upstream.set_delay(self.standin_base, case.upstream_delay_ms)
        why_not = preflight(server, case)
        for conns in conns_list or self.mode.conns:
            self.step += 1
            result = load.Result(label=f"{case.name}@{kind}", case=case.name, server=kind, conns=conns)
            if why_not:
                result.error = why_not
            else:
                try:
                    load.measure(
                        result,
                        server,
                        server.url(case.path),
                        max(self.mode.seconds, case.min_seconds),
                        self.mode.warmup,
                        case.script,
                        case.headers,
                        fixture.MYSQL,
                        case.settle_timeout,
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    result.error = str(error)[:300]
            self.results.append(result)
            self.say(f"{self.step}/{self.total} {kind:>15} {case.name:<14} c={conns:<5} " + _summary(result))
            time.sleep(0.5)

    def _ab(self, server: servers.Server) -> None:
        for case_name in self.mode.ab_cases:
            case = self.cases[case_name]
            if preflight(server, case):
                continue
            for conns in self.mode.ab_conns:
                for lenient in (False, True):
                    row = load.run_ab(server.url(case.path), conns, self.mode.ab_seconds, lenient)
                    row.update(case=case_name, conns=conns, lenient=lenient)
                    self.ab_rows.append(row)
                    self.say(
                        f"ab {case_name} -c {conns} {'-l' if lenient else '  '}: {row['rps']:.0f} req/s, "
                        f"failed {row['failed']:.0f} (length {row['length']:.0f}), non-2xx {row['non2xx']:.0f}"
                    )
                    time.sleep(2)

    # --- open loop (bench/openloop.py) -----------------------------------------------------------------
    def _open_loop(self, server: servers.Server) -> None:
        """Each open-loop case at OPENLOOP_LEVELS of its best closed-loop rate on this server, measured just before."""
        for case_name in self.mode.openloop_cases:
            case = self.cases[case_name]
            rates = [r.rps for r in self.results if r.server == server.name and r.case == case_name and not r.error]
            capacity = max(rates, default=0.0)
            for level in OPENLOOP_LEVELS:
                row = openloop.OpenLoopResult(case_name, server.name, level, capacity, capacity * level)
                if not capacity:
                    row.error = "no closed-loop rate measured for this case"
                else:
                    self._send_open_loop(server, row, self._urls(server, case), case.headers)
                self.openloop_rows.append(row.as_dict())
                self.say(f"open loop {case_name:<14} {level:.0%} of {capacity:,.0f}: " + report.openloop_line(row))

    def _validate_open_loop(self, server: servers.Server) -> None:
        """The generator against a server that answers in well under a millisecond: its own floor and rate."""
        rates = [r["target_rps"] for r in self.openloop_rows]  # the highest rate the run asks for, at least 1000
        row = openloop.OpenLoopResult("static", server.name, 0.0, 0.0, max([1000.0, *rates]))
        self._send_open_loop(server, row, [server.url(self.cases["static"].path)], [])
        self.openloop_rows.append(row.as_dict())
        self.say(f"open loop validation on nginx at {row.target_rps:,.0f} req/s: " + report.openloop_line(row))

    def _send_open_loop(self, server: servers.Server, row: openloop.OpenLoopResult, urls, headers) -> None:
        load.wait_until_closed(server.port)
        try:
            seconds = max(self.mode.seconds, self.mode.openloop_seconds)
            openloop.measure(row, urls, headers, seconds, self.mode.warmup, self.run_dir)
        except subprocess.TimeoutExpired as error:
            row.error = str(error)[:300]
        time.sleep(0.5)

    def _urls(self, server: servers.Server, case: Case) -> list[str]:
        """The URLs h2load sends in turn: for db_redis, 200 random rows, as wrk's script picks them."""
        first, last = self.seed["mini_program_ids"]
        if case.name == "db_redis" and first == 1:
            picks = random.Random(0).choices(range(1, last + 1), k=200)  # noqa: S311 - load, not secrets
            return [server.url(f"/api/probe/db-redis/{i}") for i in picks]
        return [server.url(case.path)]

    # --- output --------------------------------------------------------------------------------
    def _write(self) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stem = datetime.now().strftime("%Y-%m-%d")
        if self.mode_name != "full":
            stem += f"-{self.mode_name}"
        meta = {
            "mode": self.mode_name,
            "date": datetime.now().isoformat(timespec="seconds"),
            "machine": _machine(),
            "mode_settings": self.mode.__dict__,
            "seed": {k: v for k, v in self.seed.items() if k not in ("token", "secret")},
            "servers": self.servers_info,
            "notes": self.notes,
            "elapsed_s": round(time.monotonic() - self.started),
            "workers": servers.WORKERS,
            "memory": self.memory,
            "reload": self.reload_rows,
            "openloop": self.openloop_rows,
            # The service's pools: DB_POOL_SIZE connections per worker and alias (default and admin).
            "db_connection_bound": servers.WORKERS * int(os.environ.get("DB_POOL_SIZE", "8")) * 2,
            "standin_ceiling": self.standin_ceiling,
            "thread_sweep": self.thread_sweep,
        }
        results = [r.as_dict() for r in self.results]
        (self.out_dir / f"{stem}.json").write_text(
            json.dumps({"meta": meta, "results": results, "ab": self.ab_rows}, indent=1)
        )
        chart = report.chart(results, self.out_dir / f"{stem}.png")
        md = self.out_dir / f"{stem}.md"
        md.write_text(report.markdown(meta, results, self.ab_rows, chart))
        self.say(f"report: {md}" + (f", chart: {chart}" if chart else " (no chart: matplotlib missing)"))
        return md


def start_standin(run_dir: Path, data: fixture.BenchData, seed: dict) -> tuple[subprocess.Popen, str]:
    """The WeChat stand-in (bench/wechat_bench.py) on a free port, answering: its process and base URL."""
    port = servers.free_port()
    log = open(run_dir / "wechat-standin.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.wechat_bench",
            "--port",
            str(port),
            "--appid",
            seed["appid"],
            "--users",
            str(seed["users"]),
        ],
        cwd=ROOT,
        env=data.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            requests.get(f"http://127.0.0.1:{port}/__standin__/stats", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def stop_standin(process: subprocess.Popen | None) -> None:
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


def write_memory_report(out_dir: Path, figures: dict) -> Path:
    """`<date>-memory.md` and `.json`: the memory case alone."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = datetime.now().strftime("%Y-%m-%d") + "-memory"
    (out_dir / f"{stem}.json").write_text(json.dumps(figures, indent=1))
    path = out_dir / f"{stem}.md"
    path.write_text("\n".join([f"# Memory, {figures['date']}", "", *report.memory_section(figures), ""]))
    print(f"memory: {report.memory_line(figures)}\nreport: {path}", flush=True)
    return path


def _summary(r: load.Result) -> str:
    if r.error:
        return f"NOT RUN: {r.error[:120]}"
    return (
        f"{r.rps:8.0f} req/s  p50 {r.p50_ms:7.1f} ms  p99 {r.p99_ms:7.1f} ms  non-2xx {r.non2xx}  "
        f"sock {r.socket_errors}  db-conns {r.threads_connected_peak}  rss {r.rss_peak_mb:.0f} MB"
    )


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def _machine() -> dict:
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "missing"

    import django
    import gevent
    import gunicorn

    return {
        "cpus": servers.CPUS,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "gevent": gevent.__version__,
        "uwsgi": version([str(servers.BIN / "uwsgi"), "--version"]),
        "granian": version([str(servers.BIN / "granian"), "--version"]),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "-v"]),
        "mariadb": version(["mariadb", "--version"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="full")
    parser.add_argument("--quick", action="store_true", help="same as --mode quick")
    parser.add_argument("--tiny", action="store_true", help="same as --mode tiny (the smoke test's run)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--cases", nargs="*", help=f"a subset of {', '.join(ALL_CASES)}, reload (alone: the reload case only)"
    )
    parser.add_argument("--reload-hups", type=int, help="HUPs per arbiter in the reload case (0: skip it)")
    parser.add_argument("--memory-only", action="store_true", help="only the memory case (light on a shared box)")
    parser.add_argument("--memory-load", type=float, default=600, help="seconds of mixed load in --memory-only")
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else args.mode
    fixture.exit_cleanly_on_signals()
    if args.memory_only:
        write_memory_report(args.out, memory.measure(20, args.memory_load, None, {}))
        return 0
    Bench(mode, args.out, args.cases, args.reload_hups).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
