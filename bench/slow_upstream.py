"""The slow-upstream cases: requests that wait on WeChat, as they do from a mainland cloud (30-150 ms away).

- `login_slow`: the `login` case with the WeChat stand-in answering after DELAY_MS;
- `post_moderated`: a post whose content is checked with msg_sec_check before it is stored
  (bench/wsgi_moderated.py), with the same delay.

Each runs on the service and on each peer (every server loads bench/wsgi_moderated.py, whose
only change is the post route), at SLOW_CONNS. Also measured here: the stand-in's own ceiling
(wrk straight at it, with and without the delay), and in the full run how many threads gthread
and granian need to catch up with the service on `login_slow` at the top concurrency.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING

import requests

from bench import fixture, load, servers

if TYPE_CHECKING:
    from bench.run import Bench

CASES = ("login_slow", "post_moderated")
DELAY_MS = 100
SLOW_CONNS = (100, 1000)
THREAD_SWEEP = (8, 32, 128, 512)
SWEPT = ("gthread", "granian")
# A thread-bound server still works through the requests of a run's closed connections (each one waits on
# WeChat too): 1000 at 5 sync workers' 50 req/s is 20 s. The next run starts behind them unless it waits.
SETTLE_TIMEOUT = 60.0
# wrk counts the requests completed inside its run. A server that works on all 1000 connections at once finishes
# them in waves 1000 ÷ rate apart (4 s at 250 logins/s), so an 8 s run counts one or two waves: the full run gives
# each slow point FULL_SECONDS to average over several.
FULL_SECONDS = 20.0
CATCH_UP = 0.95  # a peer has caught up with the service at this share of its rate (runs are noisy)
MODERATED_APP = "bench.wsgi_moderated:application"
# Every post comes from the one bench user on one address.
LIFTED_WRITE_LIMITS = {
    "RATE_POST_PER_USER": "1000000000",
    "RATE_WRITE_PER_USER": "1000000000",
    "RATE_WRITE_PER_IP": "1000000000",
}
_CEILING_PATH = "/sns/jscode2session?grant_type=authorization_code&secret=bench&appid={appid}&js_code=bench-ceiling-"


def set_delay(base: str, ms: float) -> None:
    """The stand-in's delay before each WeChat answer, from now on."""
    requests.post(f"{base}/__standin__/delay", json={"ms": ms}, timeout=5).raise_for_status()


def measure_standin(bench: Bench, base: str, seed: dict) -> list[dict]:
    """The stand-in's own ceiling: wrk straight at jscode2session (a fresh code each call), no delay and DELAY_MS."""
    path = _CEILING_PATH.format(appid=seed["appid"])
    rows = []
    for delay in (0, DELAY_MS):
        set_delay(base, delay)
        for conns in SLOW_CONNS:
            row = {"delay_ms": delay, "conns": conns, "error": ""}
            try:
                data = load.run_wrk(base + path, conns, bench.mode.seconds, ["ids", path, "1000000000"], [])
                secs = data["duration_us"] / 1e6
                errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
                row.update(
                    rps=data["requests"] / secs if secs else 0.0,
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                    non2xx=data["status"],
                    socket_errors=errors,
                )
            except (RuntimeError, OSError) as error:
                row["error"] = str(error)[:300]
            rows.append(row)
            bench.say(f"stand-in ceiling, delay {delay} ms, c={conns}: " + _line(row))
            load.wait_until_closed(int(base.rsplit(":", 1)[1]))
    set_delay(base, 0)
    return rows


def _line(row: dict) -> str:
    if row.get("error"):
        return f"NOT RUN: {row['error'][:120]}"
    return f"{row['rps']:8.0f} req/s  p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms"


def _cases(bench: Bench) -> list[str]:
    return [case for case in CASES if case in bench.mode.cases]


def _conns(bench: Bench) -> tuple[int, ...]:
    return tuple(c for c in bench.mode.conns if c in SLOW_CONNS) or bench.mode.conns


def _kinds(bench: Bench) -> list[str]:
    return [kind for kind in bench.mode.slow_servers if servers.available(kind)]


def steps(bench: Bench) -> int:
    """How many load points measure_all runs at most (for the progress line)."""
    points = len(_cases(bench)) * len(_kinds(bench)) * len(_conns(bench))
    if "login_slow" in bench.mode.cases:
        points += len(bench.mode.thread_sweep) * len([k for k in SWEPT if k in _kinds(bench)])
    return points


def measure_all(bench: Bench) -> None:
    """The slow cases on the service and every peer in bench.mode.slow_servers, then the thread sweep."""
    cases = _cases(bench)
    if not cases:
        return
    for kind in bench.mode.slow_servers:
        if not servers.available(kind):
            bench.notes.append(f"slow upstream: {kind} not installed (make bench installs bench/requirements.txt)")
            continue
        bench.say(f"starting {kind} for the slow-upstream cases ({DELAY_MS} ms from WeChat)")
        try:
            server = servers.start(kind, bench.env, bench.run_dir, "/api/health", app=MODERATED_APP)
        except (RuntimeError, TimeoutError) as error:
            bench.notes.append(f"slow upstream: {kind} did not start: {str(error)[:200]}")
            continue
        bench.servers_info[f"{kind} (slow upstream)"] = server.info + ", posts moderated in the request"
        try:
            for case in cases:
                for conns in _conns(bench):
                    # A run leaves requests queued in the server after wrk has gone (at 100 ms a call, a
                    # thread-bound peer needs seconds for 1000): the next preflight would wait behind them.
                    load.wait_until_closed(server.port, SETTLE_TIMEOUT)
                    _wait_until_answering(server)
                    _upstream_peak(bench.standin_base)  # reads and resets the stand-in's peak
                    bench._measure_case(server, kind, _fresh(bench, bench.cases[case], f"{kind}-{conns}"), (conns,))
                    bench.results[-1].upstream_in_flight_peak = _upstream_peak(bench.standin_base)
        finally:
            server.stop()
        time.sleep(1)
    if "login_slow" in cases and bench.mode.thread_sweep:
        sweep_threads(bench)


def _wait_until_answering(server: servers.Server) -> None:
    """Until the server answers its health check: granian closes a gone client's socket but still runs its queued
    requests (each waiting on WeChat), so no socket state shows the work left, and a preflight timed out behind it."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if requests.get(server.url("/api/health"), timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)


def _upstream_peak(base: str) -> int:
    """The most WeChat calls the stand-in held at once since the last read: how many waits a server overlaps."""
    try:
        return int(requests.get(f"{base}/__standin__/stats", timeout=5).json()["peak_in_flight"])
    except (requests.RequestException, ValueError, KeyError):
        return 0


def _fresh(bench: Bench, case, point: str):
    """The case for one point: the mode's slow_seconds, and for login a preflight code of its own (valid once)."""
    case = dataclasses.replace(case, min_seconds=bench.mode.slow_seconds)
    if case.name != "login_slow":
        return case
    body = json.dumps({"appid": bench.seed["appid"], "code": f"bench-{bench.run_id}-slow-{point}-preflight"})
    return dataclasses.replace(case, body=body)


def _service_rate(bench: Bench, conns: int) -> float:
    for r in bench.results:
        if (r.server, r.case, r.conns) == ("gevent", "login_slow", conns) and not r.error:
            return r.rps
    return 0.0


def sweep_threads(bench: Bench) -> None:
    """login_slow at the top concurrency on gthread and granian with more and more threads per worker.

    Stops at the first count that reaches CATCH_UP of the service's rate: what it costs there (peak RSS,
    per worker and in all) is the figure asked for; beyond it the sweep would only burn memory.
    """
    conns = max(_conns(bench))
    service = _service_rate(bench, conns)
    case = bench.cases["login_slow"]
    for kind in SWEPT:
        if kind not in _kinds(bench):
            continue
        for threads in bench.mode.thread_sweep:
            bench.step += 1
            label = f"{kind} x{threads}"
            result = load.Result(label=f"login_slow@{label}", case="login_slow", server=kind, conns=conns)
            server = None
            try:
                set_delay(bench.standin_base, case.upstream_delay_ms)
                _upstream_peak(bench.standin_base)
                server = servers.start(kind, bench.env, bench.run_dir, "/api/health", threads=threads)
                load.measure(
                    result,
                    server,
                    server.url(case.path),
                    max(bench.mode.seconds, bench.mode.slow_seconds),
                    bench.mode.warmup,
                    case.script,
                    case.headers,
                    fixture.MYSQL,
                    SETTLE_TIMEOUT,
                )
                result.upstream_in_flight_peak = _upstream_peak(bench.standin_base)
            except (RuntimeError, TimeoutError) as error:
                result.error = str(error)[:300]
            finally:
                if server is not None:
                    server.stop()
            row = {**result.as_dict(), "threads": threads, "service_rps": service}
            row["caught_up"] = bool(service and not result.error and result.rps >= CATCH_UP * service)
            row.pop("raw", None)
            bench.thread_sweep.append(row)
            bench.say(
                f"{bench.step}/{bench.total} sweep {label:>14} login_slow c={conns:<5} "
                + (f"NOT RUN: {result.error[:100]}" if result.error else f"{result.rps:8.0f} req/s")
                + f" (service {service:.0f}), worker rss {result.rss_worker_peak_mb:.0f} MB"
            )
            time.sleep(1)
            if row["caught_up"]:
                break
