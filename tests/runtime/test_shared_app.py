"""Gunicorn's workers are forked from an app template that loaded the app once (corelib.gunicorn_template)."""

import os
import re
import signal
from pathlib import Path

import pytest
import requests

from bench.servers import children_map
from tests.runtime.conftest import CONF
from tests.runtime.stack import established_ports, log_size, read_from, supervisorctl, wait_for_log
from tests.support import wait_for_http, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]

ERROR_LOG = "gunicorn-test-error.log"
TEMPLATE_LOADED = r"app template (\d+) loaded the app"


def _master(stack) -> int:
    output = supervisorctl(stack.checkout, CONF, "status", "miniprogram:gunicorn", env=stack.env)
    return int(re.search(r"RUNNING\s+pid (\d+)", output).group(1))


def _children(pid: int) -> set[int]:
    return set(children_map().get(pid, []))


def _template(stack) -> int:
    return int(re.findall(TEMPLATE_LOADED, stack.log(ERROR_LOG).read_text())[-1])


def _memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def _serving_processes(stack) -> tuple[int, set[int]]:
    """The current template and the master's workers (its other children), once all are there."""
    master = _master(stack)

    def settled():
        template = _template(stack)
        workers = _children(master) - {template}
        return (template, workers) if template in _children(master) and len(workers) == stack.workers else None

    return wait_until(settled, timeout=60, what="the master's children: one template and its workers")


def test_each_worker_is_the_masters_child_and_shares_most_of_its_memory(running_stack):
    stack = running_stack
    template, workers = _serving_processes(stack)
    requests.get(f"{stack.url}/api/ready", timeout=10).raise_for_status()
    for pid in sorted(workers):
        memory = _memory_kb(pid)
        private = memory["Private_Clean"] + memory["Private_Dirty"]
        print(f"\nworker {pid}: RSS {memory['Rss'] / 1024:.1f} MB, private {private / 1024:.1f} MB")
        # A worker that loaded the app itself has almost all of it private (~65 of ~75 MB measured).
        assert private < memory["Rss"] / 2, (pid, memory)
    assert template not in workers


def test_the_template_holds_no_database_or_redis_connection_its_workers_would_share(running_stack):
    stack = running_stack
    template, workers = _serving_processes(stack)
    for _ in range(stack.workers * 4):  # every worker likely touches MySQL and Redis
        requests.get(f"{stack.url}/api/health/db", timeout=10)
    mysql, redis = 3306, int(stack.env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    held_by_workers = set().union(*(established_ports(pid) for pid in workers))
    assert {mysql, redis} & held_by_workers  # the check sees a worker's connections
    assert not {mysql, redis} & established_ports(template)


def test_a_killed_template_and_worker_are_replaced_and_the_stack_keeps_answering(running_stack):
    stack = running_stack
    error_log = stack.log(ERROR_LOG)
    template, workers = _serving_processes(stack)
    offset = log_size(error_log)

    os.kill(template, signal.SIGKILL)
    wait_for_log(error_log, offset, rf"app template {template} exited \(signal SIGKILL\)")
    assert requests.get(f"{stack.url}/api/ready", timeout=10).status_code == 200  # the workers serve on
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for_log(error_log, offset, TEMPLATE_LOADED)

    new_template, new_workers = _serving_processes(stack)
    assert new_template != template
    assert new_workers == (workers - {victim}) | (new_workers - workers) and len(new_workers - workers) == 1
    assert wait_for_http(f"{stack.url}/api/ready").status_code == 200
    assert "Traceback" not in read_from(error_log, offset)
