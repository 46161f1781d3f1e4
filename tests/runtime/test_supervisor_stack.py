"""The stack as Supervisor runs it: 13 programs, bounded DB connections (reloads: test_reload.py)."""

import json
import os
import re
import subprocess
import threading
import time

import pymysql
import pytest

from tests.runtime.conftest import CONF
from tests.runtime.stack import (
    access_log_statuses,
    established_ports,
    program_states,
)
from tests.support import wait_for_http, wait_until

# The marks make pytest-django create this run's databases, which the stack uses.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]


def test_it_starts_thirteen_programs_and_answers_ready(running_stack):
    states = program_states(running_stack.checkout, CONF, running_stack.env)
    assert sorted(states) == sorted(
        ["miniprogram:gunicorn", "miniprogram:rqforkserver", "miniprogram:rqscheduler"]
        + [f"miniprogram:rqworker_{n:02d}" for n in range(10)]
    )
    assert set(states.values()) == {"RUNNING"}
    assert wait_for_http(f"{running_stack.url}/api/ready").json()["status"] == "ready"
    print(f"\nstack ready {running_stack.boot_seconds:.1f}s after supervisord started")


def test_gunicorn_workers_are_patched_before_anything_imports_sockets(running_stack):
    error_log = running_stack.log("gunicorn-test-error.log").read_text()
    assert error_log.count("Booting worker") >= running_stack.workers
    assert "MonkeyPatchWarning" not in error_log
    assert "serving revision" in error_log


def _sample_connections(db_names, stop, samples):
    connection = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    marks = ",".join(["%s"] * len(db_names))
    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(f"SELECT HOST FROM information_schema.PROCESSLIST WHERE DB IN ({marks})", db_names)  # noqa: S608
                # The stack's connections: not this test process's own (pytest-django's, one or more per database).
                own = established_ports(os.getpid(), end="local")
                ports = [host.rpartition(":")[2] for (host,) in cursor.fetchall()]
                ours = sum(1 for port in ports if not port.isdigit() or int(port) not in own)
                cursor.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                samples.append((ours, int(cursor.fetchone()[1])))
                time.sleep(0.1)
    finally:
        connection.close()


def test_db_connections_stay_bounded_at_1000_concurrent_clients(running_stack):
    stack = running_stack
    db_names = [stack.env["DB_NAME"], stack.env["ADMIN_DB_NAME"]]
    access_log = stack.log("gunicorn-test-access.log")
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=_sample_connections, args=(db_names, stop, samples), daemon=True)
    sampler.start()
    try:
        wrk = subprocess.run(
            ["wrk", "-t2", "-c1000", "-d8s", "--timeout", "10s", f"{stack.url}/api/health/db?probe=c1000"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop.set()
        sampler.join(timeout=10)
    print("\n" + wrk.stdout)
    assert wrk.returncode == 0, wrk.stderr
    requests_done = int(re.search(r"(\d+) requests in", wrk.stdout).group(1))
    ours_peak = max(ours for ours, _ in samples)
    global_peak = max(total for _, total in samples)
    bound = stack.workers * stack.pool
    print(
        f"1000 clients: {requests_done} requests; connections to this run's databases peaked at {ours_peak} "
        f"(bound workers x pool = {stack.workers} x {stack.pool} = {bound}); "
        f"MariaDB Threads_connected peaked at {global_peak} (whole server, other tests included)"
    )
    # Supervisor writes the access log a moment after the requests: wait for every line wrk counted.
    statuses = wait_until(
        lambda: (found := access_log_statuses(access_log, "probe=c1000")).total() >= requests_done and found,
        30,
        "the access log to hold every request",
    )
    print(f"statuses in the access log: {dict(statuses)}")
    # Enough requests to have needed every slot; how many a loaded machine answers in 8 s is not the point.
    assert requests_done > bound
    assert ours_peak <= bound + 2  # margin: the sampler's own view of a closing connection
    assert statuses[500] == 0
    assert statuses[200] > 0
    logs = stack.log("gunicorn-test-error.log").read_text()
    assert "Too many connections" not in logs


def test_runtime_stats_shows_gunicorn_and_rq(running_stack):
    stack = running_stack
    result = subprocess.run(
        [str(stack.checkout / ".venv/bin/python"), "manage.py", "runtime_stats", "--json"],
        cwd=stack.checkout,
        env={**stack.env, "DJANGO_SETTINGS_MODULE": "project.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["gunicorn"]["master"]["alive"] is True
    assert len([w for w in stats["gunicorn"]["workers"] if w["alive"]]) == stack.workers
    assert set(stats["rq"]["queues"]) == {"high", "default", "low"}
    assert stats["rq"]["workers"]["total"] == 10
    assert "scheduled" in stats["rq"] and "failed" in stats["rq"]
    text = subprocess.run(
        [str(stack.checkout / ".venv/bin/python"), "manage.py", "runtime_stats"],
        cwd=stack.checkout,
        env={**stack.env, "DJANGO_SETTINGS_MODULE": "project.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "gunicorn master" in text.stdout
