"""`make bench`'s scripts start, measure and write a report on a tiny run. No speed is asserted."""

import subprocess
import sys

import pytest

from tests.support import PROJECT_ROOT


@pytest.mark.slow
def test_a_tiny_run_writes_a_report_and_cleans_up(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    reports = list(tmp_path.glob("*-tiny.md"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "## Targets" in text
    assert "| json | 10 |" in text  # the one case was measured, not skipped
    # The baselines start on the same gunicorn.conf.py: a hook that assumes Django must not stop them.
    assert "| ceiling: bare WSGI on gunicorn gevent | 10 |" in text
    assert "bench databases dropped" in out.stdout
    run_id = out.stdout.split("creating bench_", 1)[1].split(" ", 1)[0]
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (f"bench_{run_id}%",))
            assert cur.fetchall() == ()
    finally:
        conn.close()
