"""The bench report: a Markdown file with the tables, ratios and targets, and a PNG chart."""

import json
import sys
from pathlib import Path

from bench.targets import targets

CASE_TITLES = {
    "json": "json (small JSON, no I/O)",
    "db_redis": "db_redis (1 row by pk + 1 Redis GET)",
    "board_cached": "board, cached (first page of messages)",
    "board_uncached": "board, uncached (page cache bypassed)",
    "login": "login (WeChat stand-in, get-or-create, token)",
}
SERVER_TITLES = {
    "gevent": "service: gunicorn gevent",
    "gevent_uncached": "service: gunicorn gevent",
    "bare": "ceiling: bare WSGI on gunicorn gevent",
    "bare_db_redis": "db_redis ceiling: bare WSGI, PyMySQL + redis-py, on gunicorn gevent",
    "nginx": "physical limit: nginx static file",
    "sync": "peer: gunicorn sync",
    "gthread": "peer: gunicorn gthread",
    "uwsgi": "peer: uWSGI gevent",
    "granian": "peer: granian WSGI",
}
PEERS = ("sync", "gthread", "uwsgi", "granian")


def _index(results: list[dict]) -> dict:
    return {(r["server"], r["case"], r["conns"]): r for r in results if not r["error"]}


def _ours(idx: dict, case: str, conns: int) -> dict | None:
    return idx.get(("gevent", case, conns)) or idx.get(("gevent_uncached", case, conns))


def _ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or not b["rps"]:
        return "–"
    return f"{a['rps'] / b['rps']:.0%}"


def _row(r: dict) -> str:
    return f"{r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['non2xx']} | {r['socket_errors']}"


READING_LATENCIES = (
    "**Reading the latencies.** wrk 4 corrects its latency histogram for coordinated omission: an answer slower "
    "than the mean interval between a connection's requests counts again for each request a constant-rate "
    "client would have sent meanwhile, so one stall of a second weighs as many slow samples. Its percentiles are "
    "a client's view, not a histogram of the server's request times. And with N connections each sending its "
    "next request as soon as the last answer came, the mean latency is N ÷ requests/s (Little's law): at 1000 "
    "connections a p99 under 250 ms needs well over 4,000 req/s from the case itself, whatever the server does. "
    "Latency at a given load is the open-loop table's (a fixed request rate)."
)


def markdown(meta: dict, results: list[dict], ab_rows: list[dict], chart: Path | None) -> str:
    idx = _index(results)
    conns = sorted({r["conns"] for r in results})
    m = meta["machine"]
    lines = [
        f"# Benchmark, {meta['date']} ({meta['mode']} run)",
        "",
        f"`make bench{'' if meta['mode'] == 'full' else ' QUICK=1' if meta['mode'] == 'quick' else ''}` "
        f"({meta['elapsed_s']} s). {m['cpus']} cores shared by the servers and wrk; Python {m['python']}, "
        f"Django {m['django']}, gunicorn {m['gunicorn']}, gevent {m['gevent']}; {m['uwsgi']}; {m['granian']}; "
        f"{m['nginx']}; {m['wrk']}; {m['mariadb']}.",
        "",
        f"Each point: wrk on 127.0.0.1, 2 threads, {meta['mode_settings']['seconds']} s after a "
        f"{meta['mode_settings']['warmup']} s warm-up at the same concurrency, `--timeout 10s`. "
        "p50/p99 are wrk's latency percentiles; non-2xx are answers ≥ 400; socket errors are connect, read, "
        "write errors and timeouts. Peak DB connections is MariaDB's `Threads_connected` sampled every 0.2 s "
        "(the whole server's: other clients of the machine's MariaDB count too, the value before the run is "
        "in brackets). Peak RSS is the sum over the server's master and workers.",
        "",
        "Data: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in meta["seed"].items() if k != "mini_program_ids")
        + " (own databases `bench_<run>`, dropped at the end).",
        "",
        "Servers: " + "; ".join(f"**{k}**: {v}" for k, v in meta["servers"].items()) + ".",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, text, met in targets(
        results, meta.get("openloop", []), meta.get("db_connection_bound", 0)
    ) + slow_targets(results):
        lines.append(f"| {name} | {text} | {'yes' if met else 'no' if met is False else '–'} |")
    lines += ["", READING_LATENCIES]
    if chart:
        lines += ["", f"![throughput and p99 per case]({chart.name})"]
    lines += [
        "",
        "## The service (gunicorn gevent, project config)",
        "",
        "| case | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | ÷ ceiling | ÷ nginx | "
        "peak DB conns | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in CASE_TITLES:
        for c in conns:
            r = _ours(idx, case, c)
            if r is None:
                continue
            ceiling, static = idx.get(("bare", "json", c)), idx.get(("nginx", "json", c))
            lines.append(
                f"| {case} | {c} | {_row(r)} | {_ratio(r, ceiling)} | {_ratio(r, static)} | "
                f"{r['threads_connected_peak']} ({r['threads_connected_before']}) | {r['rss_peak_mb']:.0f} |"
            )
    lines += [
        "",
        "## Ceiling and physical limit (same JSON document)",
        "",
        "| server | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | service json ÷ this |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for server in ("bare", "nginx"):
        for c in conns:
            r = idx.get((server, "json", c))
            if r:
                ours = idx.get(("gevent", "json", c))
                lines.append(f"| {SERVER_TITLES[server]} | {c} | {_row(r)} | {_ratio(ours, r)} |")
    lines += db_redis_ceiling_section(idx, conns)
    if meta.get("openloop"):
        lines += ["", *openloop_section(meta["openloop"])]
    peer_rows = [r for r in results if r["server"] in PEERS]
    if peer_rows:
        lines += [
            "",
            "## Peers on the same Django app (same worker count)",
            "",
            "The last column is the service's requests/s divided by the peer's: above 100% the service is ahead.",
            "",
            "| case | conns | server | req/s | p50 ms | p99 ms | non-2xx | socket errors | peak DB conns | "
            "peak RSS MB | service ÷ this |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for case in CASE_TITLES:
            for c in conns:
                ours = idx.get(("gevent", case, c))
                for server in ("gevent", *PEERS):
                    r = idx.get((server, case, c))
                    if r is None or not any(idx.get((p, case, c)) for p in PEERS):
                        continue
                    ratio = "" if server == "gevent" else _ratio(ours, r)
                    lines.append(
                        f"| {case} | {c} | {SERVER_TITLES[server]} | {_row(r)} | "
                        f"{r['threads_connected_peak']} ({r['threads_connected_before']}) | {r['rss_peak_mb']:.0f} | "
                        f"{ratio} |"
                    )
    if ab_rows:
        lines += [
            "",
            "## The table with ab",
            "",
            "`ab -H 'Accept-Encoding: gzip' -t T -c X [-l] URL` against the service (plus `-q -r`: quiet, and do "
            "not abort on a socket error). ab opens a new connection per request (no `-k`).",
            "",
            "| case | -c | -l | req/s | complete | failed | of which length | connect | receive | exceptions | "
            "non-2xx | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for a in ab_rows:
            lines.append(
                f"| {a['case']} | {a['conns']} | {'yes' if a['lenient'] else 'no'} | {a['rps']:,.0f} | "
                f"{a['complete']:.0f} | {a['failed']:.0f} | {a['length']:.0f} | {a['connect']:.0f} | "
                f"{a['receive']:.0f} | {a['exceptions']:.0f} | {a['non2xx']:.0f} | {a['p50_ms']:.0f} | "
                f"{a['p99_ms']:.0f} |"
            )
        lines += [
            "",
            '**What ab\'s "errors" are.** Without `-l`, ab takes the length of the first response body as '
            "the expected one and counts every response of another length as a *failed request* (`Length`), "
            "although the server answered 200 and logged it so. A dynamic JSON body changes length: here the "
            "`json` document carries the current time (`1763.0123` and `1763.01234` differ by a digit), and the "
            "`db_redis` one a row and a counter. With `-l` the same responses are all counted as complete. "
            "Real failures would show as `connect`, `receive`, `exceptions` or `non-2xx`.",
        ]
    slow = slow_upstream_section(meta, results)
    if slow:
        lines += ["", *slow]
    if meta.get("reload"):
        lines += ["", *reload_section(meta["reload"])]
    if meta.get("memory"):
        lines += ["", *memory_section(meta["memory"])]
    not_run = [r for r in results if r["error"]]
    if not_run or meta["notes"]:
        lines += ["", "## Not measured", ""]
        seen = set()
        for r in not_run:
            key = (r["server"], r["case"])
            if key not in seen:
                seen.add(key)
                lines.append(f"- {r['case']} on {r['server']}: {r['error']}")
        lines += [f"- {note}" for note in meta["notes"]]
    lines += [
        "",
        "## Cases",
        "",
        *(f"- **{name}**: {title}" for name, title in {**CASE_TITLES, **SLOW_CASE_TITLES}.items()),
        "- The bare-WSGI ceiling returns the same JSON document as `json` (apps/probes/document.py) with no Django; "
        "nginx serves one copy of it as a static file.",
        "- `db_redis` reads a random mini-program row by primary key and its Redis key; `board` reads the first "
        "page of the board with the most messages, authenticated; `login` posts a fresh code per request to "
        "`/api/v1/auth/login`, answered by the WeChat stand-in (nine in ten are returning users).",
        "",
    ]
    return "\n".join(lines)


RELOAD_TARGET_GAP_MS = 500


def reload_line(row: dict) -> str:
    """One line of the reload case: one arbiter's figures."""
    if row["error"]:
        return f"{row['arbiter']}: NOT RUN: {row['error']}"
    return (
        f"{row['arbiter']}: longest gap {row['gap_ms']:.0f} ms, p99 {row['p99_in_ms']:.0f} ms in HUP windows / "
        f"{row['p99_out_ms']:.0f} ms outside, {row['failures']} failures, {row['retried']} keep-alive retries, "
        f"rollouts {', '.join(f'{s:.1f}' for s in row['rollout_s'])} s, {row['requests']} requests"
    )


def reload_section(rows: list[dict]) -> list[str]:
    """The reload case's table: the stock master beside the RollingArbiter, same load, same HUPs."""
    conns = rows[0]["conns"] if rows else 0
    lines = [
        "## Reload: stock vs rolling arbiter",
        "",
        f"`db_redis` at c={conns} from the bench's own load generator (bench/reload.py: one thread per keep-alive "
        "connection, each request's send and answer times recorded), while the Gunicorn master gets HUP, each HUP "
        "once the last rollout is done. A HUP window runs from the HUP until every old worker has exited, the new "
        "ones are all there and a request sent after that was answered (at least 2 s). *Longest gap*: the longest "
        "time inside a window in which no request completed. p99 of the requests sent inside the windows against "
        "those sent outside. *Failures*: non-2xx answers and requests with no answer; *keep-alive retries*: a "
        "request that found its reused connection closed by a retiring worker before any answer, sent again on a "
        "new connection (as nginx does for a GET). *stock*: Gunicorn's own master (BENCH_ARBITER=stock, bench "
        f"only); *rolling*: the project's RollingArbiter. Target: longest gap < {RELOAD_TARGET_GAP_MS} ms with the "
        "rolling arbiter.",
        "",
        "| arbiter | HUPs | longest gap ms | p99 ms in HUP windows | p99 ms outside | failures | keep-alive retries | "
        "rollout s (HUP to old workers gone) | requests (in / out) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["error"]:
            lines.append(f"| {r['arbiter']} | – | not run: {r['error']} | | | | | | |")
            continue
        lines.append(
            f"| {r['arbiter']} | {r['hups']} | {r['gap_ms']:.0f} | {r['p99_in_ms']:.0f} | {r['p99_out_ms']:.0f} | "
            f"{r['failures']} | {r['retried']} | {', '.join(f'{s:.1f}' for s in r['rollout_s'])} | "
            f"{r['requests']} ({r['requests_in']} / {r['requests_out']}) |"
        )
    return lines


MEMORY_TARGETS_MB = {"idle": 550, "rqworker_uss_each": 30, "load_peak": 800}


def memory_line(memory: dict) -> str:
    """One line: the stack's PSS idle and under load, against MEMORY_TARGETS_MB (a 1 GB server)."""
    idle = memory["idle"]
    text = (
        f"idle stack {idle['total']['pss_mb']:.0f} MB PSS (target ≤ {MEMORY_TARGETS_MB['idle']}), "
        f"one RQ worker {idle['rqworker']['uss_each_mb']:.1f} MB beyond what it shares "
        f"(target ≤ {MEMORY_TARGETS_MB['rqworker_uss_each']})"
    )
    if "load_peak" in memory:
        growth = memory.get("load_growth_mb")
        text += (
            f"; peak under {memory['load_seconds']:.0f} s of mixed load {memory['load_peak']['total']['pss_mb']:.0f} MB"
            f" (target ≤ {MEMORY_TARGETS_MB['load_peak']})"
            + (f", second minute to last {growth:+.1f} MB" if growth is not None else "")
        )
    if "after_load" in memory:
        settled = memory["after_load"]["total"]["pss_mb"] - idle["total"]["pss_mb"]
        text += f"; idle after the load {settled:+.1f} MB against idle before"
    return text


def memory_section(memory: dict) -> list[str]:
    """The memory case's table: PSS per program of the Supervisor stack, idle and at the load's peak."""
    columns = [("idle", "idle")]
    if "load_peak" in memory:
        columns += [("load_peak", "peak under load"), ("after_load", "idle after load")]
    lines = [
        "## Memory: the whole stack",
        "",
        f"`python -m bench.memory`: `supervisord_test.conf` from a copy of the checkout, measured "
        f"{memory['idle_seconds']:.0f} s after every program was RUNNING, then sampled every 5 s under "
        f"{memory.get('load_seconds', 0):.0f} s of mixed load (the json, db_redis and board reads from 8 threads, "
        "jobs onto the three queues while fewer than 20 wait). PSS splits a shared page between the processes "
        "that map it, so the total is "
        "what the stack costs; USS is what is private to each process."
        + (
            " The RQ workers are forked from rqforkserver (the parent alone on its line); each rqworker_NN program "
            "is a relay standing in for its worker, counted on the rqworker line with it."
            if "rqforkserver" in memory["idle"]
            else ""
        ),
        "",
        memory_line(memory) + ".",
        "",
        "| program | processes | " + " | ".join(f"PSS MB {title}" for _, title in columns) + " | USS MB idle |",
        "|---|---|" + "---|" * len(columns) + "---|",
    ]
    # rqforkserver: the parent the RQ workers fork from (absent from runs before it existed).
    kinds = [kind for kind in ("gunicorn", "rqforkserver", "rqworker", "rqscheduler") if kind in memory["idle"]]
    for kind in [*kinds, "supervisord", "total"]:
        idle = memory["idle"][kind]
        cells = " | ".join(f"{memory[key][kind]['pss_mb']:.1f}" for key, _ in columns)
        lines.append(f"| {kind} | {idle['processes']} | {cells} | {idle['uss_mb']:.1f} |")
    return lines


def chart(results: list[dict], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in results if not r["error"]]
    if not rows:
        return None
    labels: list[str] = []
    for r in rows:
        label = f"{r['case']}\n{r['server'].replace('gevent_uncached', 'gevent')}"
        if label not in labels:
            labels.append(label)
    conns = sorted({r["conns"] for r in rows})
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, 0.9 * len(labels) + 2), 8), sharex=True)
    width = 0.8 / len(conns)
    for i, c in enumerate(conns):
        xs, rps, p99 = [], [], []
        for r in rows:
            if r["conns"] == c:
                label = f"{r['case']}\n{r['server'].replace('gevent_uncached', 'gevent')}"
                xs.append(labels.index(label) + (i - (len(conns) - 1) / 2) * width)
                rps.append(r["rps"])
                p99.append(r["p99_ms"])
        top.bar(xs, rps, width, label=f"{c} connections")
        bottom.bar(xs, p99, width, label=f"{c} connections")
    top.set_ylabel("requests/s (log)")
    top.set_yscale("log")
    top.set_title("Throughput per case and server")
    top.legend()
    bottom.set_ylabel("p99 latency, ms (log)")
    bottom.set_yscale("log")
    bottom.set_title("p99 latency, closed loop (wrk): a throughput figure, see the open-loop table for latency")
    bottom.set_xticks(range(len(labels)))
    bottom.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def db_redis_ceiling_section(idx: dict, conns: list[int]) -> list[str]:
    """db_redis on the service beside the same query and GET in a bare WSGI callable (bench/bare_db_redis.py)."""
    rows = [(c, idx.get(("bare_db_redis", "db_redis", c))) for c in conns]
    if not any(r for _, r in rows):
        return []
    lines = [
        "",
        "## db_redis ceiling (same query, same Redis GET, no Django)",
        "",
        "| server | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | peak DB conns | service ÷ this |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c, r in rows:
        if r:
            ours = idx.get(("gevent", "db_redis", c))
            lines.append(
                f"| {SERVER_TITLES['bare_db_redis']} | {c} | {_row(r)} | "
                f"{r['threads_connected_peak']} ({r['threads_connected_before']}) | {_ratio(ours, r)} |"
            )
    return lines


def openloop_line(row) -> str:
    """One open-loop point in a line (a dict from the report's data or an OpenLoopResult)."""
    r = row if isinstance(row, dict) else row.as_dict()
    if r["error"]:
        return f"NOT RUN: {r['error'][:160]}"
    return (
        f"{r['achieved_rps']:,.0f} of {r['target_rps']:,.0f} req/s on {r['conns']} conns, p50 {r['p50_ms']:.1f} "
        f"p99 {r['p99_ms']:.1f} p99.9 {r['p999_ms']:.1f} ms, non-2xx {r['non2xx']}, failed {r['failed']}, "
        f"late {r['late_share']:.1%}, peak sends {r.get('peak_sends', 0):.1f}x, "
        f"worst 10 s p99 {r.get('worst_window_p99_ms', 0):.1f} ms of {r.get('windows', 0)}"
    )


def openloop_section(rows: list[dict]) -> list[str]:
    """Latency at a fixed request rate (bench/openloop.py), with the generator's validation against nginx."""
    lines = [
        "## Latency at a fixed rate (open loop)",
        "",
        "`h2load --h1 -m 1 --rps R -c C -i URLS --log-file LOG` sends a fixed total rate whether or not the answers "
        "came back, so the percentiles are each request's own time from its send to the end of its answer, free "
        "of coordinated omission, over the run without its warm-up. The rate is a share of the case's best "
        "closed-loop (wrk) rate on the same server, measured just before. Each connection carries one request at a "
        "time: an answer slower than its send interval (C ÷ rate) delays its next send, so the table shows the "
        "share of such *late* answers and the achieved rate beside the target. *Failed*: h2load's failed, errored "
        "and timed-out requests. *Peak sends*: the most requests sent in one 10 ms slot over the mean per "
        "slot (1× is a perfectly even schedule; h2load waiting for a core bunches them). *Worst 10 s p99*: the run "
        "cut into windows of about 10 s, the highest p99 of any one (how much one stall weighs). The first row is the "
        "generator against nginx's static file, whose own time is well under a millisecond: what the generator "
        "adds on this machine.",
        "",
        "| case | server | share of capacity | target req/s | achieved req/s | conns | p50 ms | p99 ms | p99.9 ms | "
        "max ms | non-2xx | failed | late | peak sends | worst 10 s p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda row: row["case"] != "static"):
        level = "validation" if r["case"] == "static" else f"{r['level']:.0%} of {r['capacity']:,.0f}"
        server = SERVER_TITLES.get(r["server"], r["server"])
        if r["error"]:
            lines.append(f"| {r['case']} | {server} | {level} | {r['target_rps']:,.0f} | not run: {r['error']} |")
            continue
        lines.append(
            f"| {r['case']} | {server} | {level} | {r['target_rps']:,.0f} | {r['achieved_rps']:,.0f} | {r['conns']} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['p999_ms']:.1f} | {r['max_ms']:.0f} | {r['non2xx']} | "
            f"{r['failed']} | {r['late_share']:.1%} | {r.get('peak_sends', 0):.1f}× | "
            f"{r.get('worst_window_p99_ms', 0):.1f} of {r.get('windows', 0)} |"
        )
    return lines


SLOW_CASE_TITLES = {
    "login_slow": "login with WeChat 100 ms away (the stand-in's delay)",
    "post_moderated": "a post checked with WeChat's msg_sec_check before it is stored, WeChat 100 ms away",
}


def _slow_rate(idx: dict, server: str, case: str, conns: int) -> float | None:
    r = idx.get((server, case, conns))
    return r["rps"] if r else None


def slow_targets(results: list[dict]) -> list[tuple[str, str, bool | None]]:
    """The slow-upstream targets: the service's login must not care how far WeChat is."""
    idx = _index(results)
    top = max((r["conns"] for r in results if r["case"] == "login_slow"), default=1000)
    slow, fast = _slow_rate(idx, "gevent", "login_slow", top), _slow_rate(idx, "gevent", "login", top)
    out: list[tuple[str, str, bool | None]] = []
    if slow == 0:  # no login completed inside the run: the machine gave it too little CPU to measure anything
        slow = None
    if slow is not None and fast:
        text = f"{slow:,.0f} / {fast:,.0f} req/s = {slow / fast:.0%}"
        out.append((f"login_slow ≥ 80% of login at c={top} (service)", text, slow / fast >= 0.8))
    else:
        out.append((f"login_slow ≥ 80% of login at c={top} (service)", "not measured", None))
    sync = _slow_rate(idx, "sync", "login_slow", top)
    if slow is not None and sync == 0:  # every request outlived wrk's timeout
        out.append((f"login_slow ≥ 10× gunicorn sync at c={top}", "sync completed none", slow > 0))
    elif slow is not None and sync:
        out.append((f"login_slow ≥ 10× gunicorn sync at c={top}", f"{slow / sync:.1f}×", slow / sync >= 10))
    else:
        out.append((f"login_slow ≥ 10× gunicorn sync at c={top}", "not measured", None))
    for peer in ("gthread", "granian"):
        theirs = _slow_rate(idx, peer, "login_slow", top)
        name = f"login_slow ahead of {peer} at c={top} (its default threads)"
        if slow is not None and theirs:
            out.append((name, f"{slow:,.0f} vs {theirs:,.0f} req/s ({slow / theirs:.1f}×)", slow > theirs))
        else:
            out.append((name, "not measured", None))
    return out


def slow_upstream_section(meta: dict, results: list[dict]) -> list[str]:
    """The slow-upstream cases on every server, the stand-in's own ceiling and the thread sweep."""
    rows = [r for r in results if r["case"] in SLOW_CASE_TITLES and not r["error"]]
    ceiling = meta.get("standin_ceiling") or []
    if not rows and not ceiling:
        return []
    idx = _index(results)
    lines = [
        "## Slow upstream: WeChat 100 ms away",
        "",
        "The case gevent is for: a request that waits on WeChat. The WeChat stand-in (bench/wechat_bench.py, one "
        "gevent event loop) answers every API call after a delay; `login_slow` is the `login` case with 100 ms, "
        "`post_moderated` a post checked with msg_sec_check in the request before it is stored "
        "(bench/wsgi_moderated.py; the service itself checks in a job), also 100 ms. Every server runs the same "
        "variant app. A worker that blocks a thread per request serves at most threads ÷ 0.1 s: 5 sync workers "
        "50 req/s, 5 × 8 gthread or granian threads 400. wrk counts the requests completed inside the run: "
        "a server that works on all 1000 connections at once completes none when one request takes longer than "
        "the run (1000 ÷ its rate), so a 0 at c=1000 means too little CPU for the point, not a stopped server, "
        "and a rate near that limit is undercounted.",
        "",
    ]
    if ceiling:
        lines += [
            "The stand-in's own ceiling (wrk straight at `/sns/jscode2session`, a fresh code per call): the slow "
            "cases cannot go faster than this.",
            "",
            "| stand-in delay ms | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in ceiling:
            if c.get("error"):
                lines.append(f"| {c['delay_ms']:.0f} | {c['conns']} | not run: {c['error'][:100]} | | | | |")
                continue
            lines.append(
                f"| {c['delay_ms']:.0f} | {c['conns']} | {c['rps']:,.0f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | "
                f"{c['non2xx']} | {c['socket_errors']} |"
            )
        lines.append("")
    lines += [
        "*WeChat calls in flight*: the most calls the stand-in held at once during the point (warm-up included), "
        "i.e. how many waits the server overlaps; the rate is that over 0.1 s at best.",
        "",
        "| case | conns | server | req/s | p50 ms | p99 ms | non-2xx | socket errors | WeChat calls in flight | "
        "peak DB conns | peak RSS MB (all) | peak RSS MB (one worker) | service ÷ this |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    conns = sorted({r["conns"] for r in rows})
    for case in SLOW_CASE_TITLES:
        for c in conns:
            ours = idx.get(("gevent", case, c))
            for server in ("gevent", *PEERS):
                r = idx.get((server, case, c))
                if r is None:
                    continue
                lines.append(
                    f"| {case} | {c} | {SERVER_TITLES[server]} | {_row(r)} | {r.get('upstream_in_flight_peak', 0)} | "
                    f"{r['threads_connected_peak']} "
                    f"({r['threads_connected_before']}) | {r['rss_peak_mb']:.0f} | "
                    f"{r.get('rss_worker_peak_mb', 0):.0f} | {'' if server == 'gevent' else _ratio(ours, r)} |"
                )
    lines += ["", *_slow_ratios(idx, conns)]
    sweep = meta.get("thread_sweep") or []
    if sweep:
        lines += ["", *_sweep_lines(sweep)]
    return lines


def _slow_ratios(idx: dict, conns: list[int]) -> list[str]:
    out = []
    for c in conns:
        slow, fast = idx.get(("gevent", "login_slow", c)), idx.get(("gevent", "login", c))
        parts = [f"login_slow ÷ login (no delay) on the service {_ratio(slow, fast)}"]
        for peer in PEERS:
            theirs = idx.get((peer, "login_slow", c))
            if slow and theirs and theirs["rps"]:
                parts.append(f"service ÷ {peer} {slow['rps'] / theirs['rps']:.1f}×")
        moderated = idx.get(("gevent", "post_moderated", c))
        for peer in PEERS:
            theirs = idx.get((peer, "post_moderated", c))
            if moderated and theirs and theirs["rps"]:
                parts.append(f"post_moderated service ÷ {peer} {moderated['rps'] / theirs['rps']:.1f}×")
        out.append(f"- c={c}: " + "; ".join(parts) + ".")
    return out


def _sweep_lines(sweep: list[dict]) -> list[str]:
    conns = sweep[0]["conns"]
    lines = [
        f"**Threads per worker to catch up** (`login_slow` at c={conns}, {sweep[0].get('service_rps', 0):,.0f} "
        "req/s on the service): gthread and granian restarted with more threads per worker, until one reaches "
        "95% of the service's rate.",
        "",
        "| server | threads per worker | req/s | ÷ service | p99 ms | non-2xx | socket errors | "
        "WeChat calls in flight | peak DB conns | peak RSS MB (all) | peak RSS MB (one worker) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sweep:
        if s["error"]:
            lines.append(f"| {s['server']} | {s['threads']} | not run: {s['error'][:100]} | | | | | | | | |")
            continue
        share = f"{s['rps'] / s['service_rps']:.0%}" if s.get("service_rps") else "–"
        lines.append(
            f"| {s['server']} | {s['threads']} | {s['rps']:,.0f} | {share} | {s['p99_ms']:.0f} | {s['non2xx']} | "
            f"{s['socket_errors']} | {s.get('upstream_in_flight_peak', 0)} | {s['threads_connected_peak']} | "
            f"{s['rss_peak_mb']:.0f} | "
            f"{s['rss_worker_peak_mb']:.0f} |"
        )
    lines.append("")
    for server in dict.fromkeys(s["server"] for s in sweep):
        caught = next((s for s in sweep if s["server"] == server and s["caught_up"]), None)
        tried = [s["threads"] for s in sweep if s["server"] == server]
        if caught:
            lines.append(
                f"- {server} catches up at {caught['threads']} threads per worker, with "
                f"{caught['rss_worker_peak_mb']:.0f} MB per worker ({caught['rss_peak_mb']:.0f} MB in all)."
            )
        else:
            lines.append(f"- {server} did not catch up with up to {max(tried)} threads per worker.")
    return lines


def rewrite(data_path: Path) -> Path:
    """Write a run's report (and chart) again from its JSON: `python -m bench.report bench/results/<date>.json`."""
    data = json.loads(data_path.read_text())
    png = chart(data["results"], data_path.with_suffix(".png"))
    md = data_path.with_suffix(".md")
    md.write_text(markdown(data["meta"], data["results"], data["ab"], png))
    return md


if __name__ == "__main__":
    print(rewrite(Path(sys.argv[1])))
