"""The whole stack (Supervisor, Gunicorn, ten RQ workers, the scheduler) confined to 1 GiB of memory.

The README's 1 GB profile: two Gunicorn workers. The stack runs in a memory
cgroup of its own with a 1 GiB limit and no swap; it must start, answer the
API, run jobs on every queue, and nothing in it may be killed for memory.
"""

import subprocess

import pytest
import requests

from tests.memory.cgroup import CgroupUnavailableError, MemoryCgroup
from tests.runtime.stack import (
    copy_checkout,
    enqueue_sleep_jobs,
    program_states,
    stop_supervisord,
    wait_all_running,
    wait_jobs_finished,
)
from tests.support import free_port, subprocess_env, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]

CONF = "supervisord_test.conf"
ONE_GIB = 1 << 30


@pytest.fixture
def one_gib_cgroup():
    try:
        group = MemoryCgroup.create(ONE_GIB)
    except CgroupUnavailableError as error:
        pytest.skip(f"this machine cannot confine a process tree: {error}")
    yield group
    group.remove()


def test_the_stack_serves_and_runs_jobs_within_one_gib(tmp_path, one_gib_cgroup):
    checkout = copy_checkout(tmp_path / "app")
    port = free_port()
    env = subprocess_env(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=2, PYTHONPATH=checkout, PROBES_ENABLED=1)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the conf names it
    supervisord = f"{checkout}/.venv/bin/supervisord -c {checkout}/{CONF}"
    # The shell joins the group, then becomes supervisord: every process of the stack starts inside.
    subprocess.run(
        ["sh", "-c", f'echo $$ > "$1" && exec {supervisord}', "sh", str(one_gib_cgroup.procs_file)],
        cwd=checkout,
        env=env,
        check=True,
        timeout=30,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_all_running(checkout, CONF, env, count=13, timeout=180)
        assert wait_for_http(f"{url}/api/ready", timeout=60).json()["status"] == "ready"
        assert len(one_gib_cgroup.members()) >= 1 + 1 + 2 + 10 + 1  # supervisord, gunicorn + workers, RQ

        assert requests.get(f"{url}/api/health/db", timeout=10).status_code == 200
        assert requests.get(f"{url}/api/probe/json", timeout=10).status_code == 200
        missing = requests.get(f"{url}/api/probe/db-redis/999999999", timeout=10)
        assert missing.status_code == 404 and "error" in missing.json()
        job_ids = enqueue_sleep_jobs(env["REDIS_URL"], 12, 0.2)
        statuses = wait_jobs_finished(env["REDIS_URL"], job_ids, timeout=180)
        assert set(statuses.values()) == {"finished"}, statuses

        assert one_gib_cgroup.oom_kills() == 0
        assert set(program_states(checkout, CONF, env).values()) == {"RUNNING"}
        peak = one_gib_cgroup.peak_bytes()
        print(f"\nstack within 1 GiB: peak {peak / 2**20 if peak else float('nan'):.0f} MiB charged to its cgroup")
    finally:
        stop_supervisord(checkout, CONF, env, "pids/supervisord-test.pid")
