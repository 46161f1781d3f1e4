"""The slow-upstream cases' parts: the event-loop WeChat stand-in and the report section. No speed is asserted."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench import report
from tests.support import PROJECT_ROOT, free_port, wait_for_http

APPID = "wxslowupstream01"


@pytest.fixture
def standin():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.wechat_bench", "--port", str(port), "--appid", APPID, "--users", "10"],
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/__standin__/stats")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _login(base: str, code: str) -> dict:
    params = {"appid": APPID, "secret": "s", "js_code": code, "grant_type": "authorization_code"}
    return requests.get(f"{base}/sns/jscode2session", params=params, timeout=10).json()


def test_it_accepts_a_bench_code_once(standin):
    assert _login(standin, "bench-a-1")["openid"].startswith("o-")
    assert _login(standin, "bench-a-1")["errcode"] == 40163


def test_it_holds_every_call_while_it_delays_them(standin):
    requests.post(f"{standin}/__standin__/delay", json={"ms": 300}, timeout=5).raise_for_status()
    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(lambda i: _login(standin, f"bench-b-{i}"), range(50)))
    assert all("openid" in answer for answer in answers)
    stats = requests.get(f"{standin}/__standin__/stats", timeout=5).json()
    assert stats["delay_ms"] == 300
    assert stats["served"] == 50
    assert stats["peak_in_flight"] > 1  # the delays overlapped: no call waited for another's


def _result(server: str, case: str, conns: int, rps: float) -> dict:
    return {
        "server": server,
        "case": case,
        "conns": conns,
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "non2xx": 0,
        "socket_errors": 0,
        "threads_connected_peak": 3,
        "threads_connected_before": 1,
        "rss_peak_mb": 500.0,
        "rss_worker_peak_mb": 100.0,
        "error": "",
    }


def test_the_report_states_the_slow_upstream_ratios_and_the_sweep():
    results = [
        _result("gevent", "login", 1000, 1000),
        _result("gevent", "login_slow", 1000, 900),
        _result("sync", "login_slow", 1000, 45),
        _result("gthread", "login_slow", 1000, 380),
        _result("granian", "login_slow", 1000, 1000),
    ]
    sweep = [
        {**_result("gthread", "login_slow", 1000, 380), "threads": 8, "service_rps": 900, "caught_up": False},
        {**_result("gthread", "login_slow", 1000, 880), "threads": 32, "service_rps": 900, "caught_up": True},
    ]
    ceiling = [{"delay_ms": 100, "conns": 1000, "rps": 5000, "p50_ms": 150, "p99_ms": 300, "non2xx": 0,
                "socket_errors": 0, "error": ""}]  # fmt: skip
    text = "\n".join(report.slow_upstream_section({"standin_ceiling": ceiling, "thread_sweep": sweep}, results))
    assert "| 100 | 1000 | 5,000 |" in text
    assert "login_slow ÷ login (no delay) on the service 90%" in text
    assert "service ÷ sync 20.0×" in text
    assert "gthread catches up at 32 threads per worker, with 100 MB per worker" in text
    met = {name: ok for name, _, ok in report.slow_targets(results)}
    assert met["login_slow ≥ 80% of login at c=1000 (service)"] is True
    assert met["login_slow ≥ 10× gunicorn sync at c=1000"] is True
    assert met["login_slow ahead of granian at c=1000 (its default threads)"] is False
