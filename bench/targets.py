"""The report's targets, each computed from one run: (target, figure measured, met: True/False/None if not measured).

Ratios in the same run, not absolute times: the machine is shared and its speed varies from run to run.
"""

Target = tuple[str, str, bool | None]
KEY_CASES = ("json", "db_redis", "board_cached")
OPENLOOP_P99_MS = 50


def _index(results: list[dict]) -> dict:
    return {(r["server"], r["case"], r["conns"]): r for r in results if not r["error"]}


def _ratio_target(idx: dict, conns: list[int], name: str, num: tuple, den: tuple, need: float) -> Target:
    values = []
    for c in conns:
        a, b = idx.get((*num, c)), idx.get((*den, c))
        if a and b and b["rps"]:
            values.append((c, a["rps"] / b["rps"]))
    text = ", ".join(f"c={c}: {v:.0%}" for c, v in values) or "not measured"
    return name, text, all(v >= need for _, v in values) if values else None


def _holds_at_top(idx: dict, conns: list[int]) -> Target:
    """Every case on the service keeps 90% of its lowest-concurrency rate at the highest one."""
    low, top = (min(conns), max(conns)) if conns else (0, 0)
    name = f"every case at c={top} ≥ 90% of its own c={low}"
    parts, met = [], []
    for case in sorted({case for server, case, _ in idx if server.startswith("gevent")}):
        server = "gevent_uncached" if case == "board_uncached" else "gevent"
        a, b = idx.get((server, case, top)), idx.get((server, case, low))
        if a and b and b["rps"] and top != low:
            parts.append(f"{case} {a['rps'] / b['rps']:.0%}")
            met.append(a["rps"] >= 0.9 * b["rps"])
    return name, ", ".join(parts) or "not measured", all(met) if met else None


def _ahead_of_sync(idx: dict, conns: list[int]) -> Target:
    parts, met = [], []
    for c in conns:
        ours, sync = idx.get(("gevent", "db_redis", c)), idx.get(("sync", "db_redis", c))
        if ours and sync:
            parts.append(f"c={c}: {ours['rps']:,.0f} vs {sync['rps']:,.0f}")
            met.append(ours["rps"] > sync["rps"])
    return (
        "db_redis ahead of gunicorn sync at every concurrency",
        "; ".join(parts) or "not measured",
        (all(met) if met else None),
    )


def _no_errors_at_top(idx: dict, top: int) -> Target:
    parts, met = [], []
    for case in KEY_CASES:
        r = idx.get(("gevent", case, top))
        if r:
            parts.append(f"{case} {r['non2xx']} / {r['socket_errors']}")
            met.append(r["non2xx"] == 0 and r["socket_errors"] == 0)
    name = f"zero non-2xx and socket errors at c={top} (json, db_redis, board_cached)"
    return (
        name,
        ("non-2xx / socket errors: " + ", ".join(parts)) if parts else "not measured",
        (all(met) if met else None),
    )


def _db_connections_bounded(results: list[dict], bound: int) -> Target:
    """MariaDB's Threads_connected rose by no more than the service's pools can hold (workers × size × aliases)."""
    rises = [
        (r["threads_connected_peak"] - r["threads_connected_before"], r["case"], r["conns"])
        for r in results
        if r["server"] == "gevent" and not r["error"] and r["threads_connected_peak"]
    ]
    name = f"MariaDB connections bounded (service's rise ≤ {bound})"
    if not rises or not bound:
        return name, "not measured", None
    rise, case, c = max(rises)
    text = f"largest rise {rise} ({case} c={c}; the whole server's count: other clients of the machine count too)"
    return name, text, rise <= bound


def _open_loop_p99(rows: list[dict]) -> Target:
    parts, met = [], []
    for row in rows:
        if row["level"] == 0.5 and row["server"] == "gevent" and row["case"] in KEY_CASES:
            if row["error"]:
                parts.append(f"{row['case']} not run")
                continue
            worst = f", worst 10 s {row['worst_window_p99_ms']:.1f}" if row.get("windows", 0) > 1 else ""
            parts.append(f"{row['case']} {row['p99_ms']:.1f} ms{worst} at {row['achieved_rps']:,.0f} req/s")
            met.append(row["p99_ms"] < OPENLOOP_P99_MS and row["non2xx"] == 0 and row["failed"] == 0)
    name = f"open loop at 50% of capacity: p99 < {OPENLOOP_P99_MS} ms, no errors"
    return name, "; ".join(parts) or "not measured", (all(met) and len(met) == len(parts)) if met else None


def targets(results: list[dict], openloop_rows: list[dict], db_bound: int) -> list[Target]:
    idx = _index(results)
    conns = sorted({r["conns"] for r in results})
    top = max(conns) if conns else 0
    return [
        _ratio_target(
            idx, conns, "db_redis ≥ 70% of its bare ceiling", ("gevent", "db_redis"), ("bare_db_redis", "db_redis"), 0.7
        ),
        _ratio_target(idx, conns, "json ≥ 60% of the bare-WSGI ceiling", ("gevent", "json"), ("bare", "json"), 0.6),
        _ratio_target(idx, conns, "board cached ≥ 50% of json", ("gevent", "board_cached"), ("gevent", "json"), 0.5),
        _holds_at_top(idx, conns),
        _ahead_of_sync(idx, conns),
        _no_errors_at_top(idx, top),
        _db_connections_bounded(results, db_bound),
        _open_loop_p99(openloop_rows),
    ]
