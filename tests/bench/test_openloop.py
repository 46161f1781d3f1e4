"""The open-loop generator's arithmetic: its schedule and the figures it reads from h2load's per-request log."""

from bench import openloop


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 1001)]  # 1..1000 ms
    assert openloop.percentile(values, 0.50) == 500
    assert openloop.percentile(values, 0.99) == 990
    assert openloop.percentile(values, 0.999) == 999
    assert openloop.percentile([7.0], 0.999) == 7
    assert openloop.percentile([], 0.99) == 0


def test_each_connection_sends_at_most_once_per_interval_within_the_bounds(tmp_path):
    interval = openloop.CONNECTION_INTERVAL
    argv = openloop.h2load_args(tmp_path / "urls", 2000, 10, ["Authorization: Bearer t"], tmp_path / "log")
    conns = int(argv[argv.index("-c") + 1])
    per_conn = float(argv[argv.index("--rps") + 1])
    assert conns * per_conn == 2000
    assert 1 / per_conn >= interval - 1e-3
    assert int(argv[argv.index("-n") + 1]) == 20000  # rate × seconds in all
    assert argv[argv.index("-m") + 1] == "1" and "--h1" in argv  # one request in flight per connection
    assert argv[argv.index("-H") + 1] == "Authorization: Bearer t"
    assert openloop.connections_for(1) == openloop.LEAST_CONNECTIONS
    assert openloop.connections_for(10**6) == openloop.MOST_CONNECTIONS


def test_the_summary_leaves_out_the_warm_up_and_counts_late_and_failed_answers():
    start = 1_700_000_000_000_000
    # Warm-up second: 100 slow requests that must not count.
    rows = [(start + i * 10_000, 200, 900_000) for i in range(100)]
    # Then 2 s at 100 req/s: one in ten takes 300 ms (late for a 0.25 s interval), one a 503, one no answer.
    for i in range(200):
        took = 300_000 if i % 10 == 0 else 2_000
        status = 503 if i == 5 else -1 if i == 6 else 200
        rows.append((start + 1_000_000 + i * 10_000, status, took))
    result = openloop.OpenLoopResult("json", "gevent", 0.5, 200, 100)
    openloop.summarize(result, rows, warmup=1.0, interval=0.25)
    assert result.requests == 200
    assert 99 <= result.achieved_rps <= 101
    assert result.p50_ms == 2
    assert result.p99_ms == 300
    assert result.max_ms == 300  # the warm-up's 900 ms answers are gone
    assert result.non2xx == 2
    assert result.late_share == 0.1
    assert result.peak_sends == 1.0  # one send every 10 ms: perfectly even


def test_bunched_sends_show_as_a_peak_above_the_mean():
    start = 1_700_000_000_000_000
    rows = [(start + (i // 10) * 100_000, 200, 1_000) for i in range(100)]  # ten at once every 100 ms
    result = openloop.OpenLoopResult("static", "nginx", 0, 0, 100)
    openloop.summarize(result, rows, warmup=0, interval=0.1)
    assert result.peak_sends > 9  # ten in one slot against a mean of 1.1 over the 0.9 s they span


def test_a_stall_in_one_window_shows_in_the_worst_window_p99_beside_the_whole_runs():
    start = 1_700_000_000_000_000
    # 30 s at 100 req/s, all 2 ms, but for 2% of the second window's requests (20 of 1000) taking 200 ms.
    rows = []
    for i in range(3000):
        took = 200_000 if 1000 <= i < 1020 else 2_000
        rows.append((start + i * 10_000, 200, took))
    result = openloop.OpenLoopResult("json", "gevent", 0.5, 200, 100)
    openloop.summarize(result, rows, warmup=0, interval=0.1)
    assert result.windows == 3
    assert result.worst_window_p99_ms == 200  # 2% of that window: its p99 is the stall's
    assert result.p99_ms == 2  # under 1% of the whole run
    assert result.max_ms == 200
