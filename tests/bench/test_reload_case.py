"""The bench's reload case runs both arbiters under load and reports what the clients saw. No speed is asserted."""

import json
import subprocess
import sys

import pytest

from tests.support import PROJECT_ROOT


@pytest.mark.slow
def test_the_reload_case_reports_stock_beside_rolling_and_the_rolling_one_fails_nothing(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--tiny", "--cases", "reload", "--reload-hups", "1"]
        + ["--out", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = {row["arbiter"]: row for row in json.loads(next(tmp_path.glob("*-tiny.json")).read_text())["meta"]["reload"]}
    assert set(rows) == {"stock", "rolling"}
    for row in rows.values():
        assert row["error"] == ""
        assert row["hups"] == 1 and len(row["rollout_s"]) == 1  # the HUP was sent and its rollout seen to the end
        assert row["requests_in"] > 0 and row["requests_out"] > 0
    assert rows["rolling"]["failures"] == 0  # no request lost while the workers were replaced
    text = next(tmp_path.glob("*-tiny.md")).read_text()
    assert "## Reload: stock vs rolling arbiter" in text
    assert "| stock | 1 |" in text and "| rolling | 1 |" in text
    assert "bench databases dropped" in out.stdout
