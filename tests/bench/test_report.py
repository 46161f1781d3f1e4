"""The committed full run's data renders into a report with every section a full run has."""

import json
from pathlib import Path

from bench import report

FULL_RUN = Path(__file__).resolve().parents[2] / "bench" / "results" / "2026-11-24.json"


def test_a_full_runs_data_renders_every_section():
    data = json.loads(FULL_RUN.read_text())

    text = report.markdown(data["meta"], data["results"], data["ab"], None)

    for heading in (
        "## Targets",
        "## db_redis ceiling",
        "## Latency at a fixed rate (open loop)",
        "## Peers on the same Django app",
        "## Slow upstream",
        "## Reload: stock vs rolling arbiter",
        "## Memory: the whole stack",
    ):
        assert heading in text
    assert "| json | service: gunicorn gevent | 50% of 5,168 |" in text
