"""Reloads under load, as a deploy does them: `supervisorctl signal HUP all`, and USR2 for the master."""

import re
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker

from apps.accounts.models import MiniProgram
from tests.runtime.conftest import CONF
from tests.runtime.stack import (
    Load,
    log_size,
    read_from,
    supervisorctl,
    wait_all_running,
    wait_for_log,
    wait_jobs_finished,
)
from tests.support import wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]

ERROR_LOG = "gunicorn-test-error.log"
SUPERVISOR_LOG = "supervisord-test.log"
# The target is 2 s (measured 0.8-1.6 s, 2.1 s with the machine's load average at 40); asserted with room
# for a loaded machine. Stock Gunicorn left requests unanswered for 7-20 s on the same load.
LONGEST_WAIT = 5.0
ROLLED_OUT = r"reload: \d+ new workers ready"


def _probe_url(stack) -> str:
    """One row by primary key plus one Redis GET: the service's cheapest DB-reading request."""
    program = MiniProgram.objects.create(appid=f"wx{uuid.uuid4().hex[:16]}", name="reload probe", secret="s")
    return f"{stack.url}/api/probe/db-redis/{program.pk}"


def _hup(stack, *programs: str) -> None:
    output = supervisorctl(stack.checkout, CONF, "signal", "HUP", *(programs or ("all",)), env=stack.env)
    assert "ERROR" not in output, output


def _report(name: str, *loads: Load) -> None:
    for load in loads:
        result = load.result
        kind = "keep-alive" if load.keep_alive else "new connections"
        print(
            f"\n{name} ({kind}): {result.total} requests, statuses {dict(result.statuses)}, "
            f"longest wait {result.slowest:.2f}s, errors {result.errors[:3]}"
        )


def _wait_for_rollout_after_last_hup(error_log, offset: int, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = read_from(error_log, offset)
        if re.search(ROLLED_OUT, text[text.rfind("Hang up") :]):
            return text
        time.sleep(0.2)
    raise TimeoutError(f"no rollout after the last HUP within {timeout}s:\n{read_from(error_log, offset)[-3000:]}")


def _wait_for_more_answers(*loads: Load, more: int = 20, timeout: float = 30) -> None:
    targets = [(load, load.result.total + more) for load in loads]
    deadline = time.monotonic() + timeout
    while any(load.result.total < target for load, target in targets) and time.monotonic() < deadline:
        time.sleep(0.1)


def _assert_all_answered(*loads: Load) -> None:
    for load in loads:
        assert load.result.total > 20
        assert load.result.failures == []  # no non-200, no reset, no timeout
        assert load.result.slowest < LONGEST_WAIT


def test_three_hups_2s_apart_under_load_fail_no_request_and_keep_every_wait_short(running_stack):
    stack = running_stack
    url = _probe_url(stack)
    error_log = stack.log(ERROR_LOG)
    offset = log_size(error_log)
    master = (stack.checkout / "pids/gunicorn-test.pid").read_text().strip()

    with Load(url, threads=6, keep_alive=True) as kept, Load(url, threads=6) as fresh:
        for _ in range(3):
            _hup(stack)
            time.sleep(2)  # the spacing under test
        # HUPs that arrive during a rollout are served by one more rollout, on the code on disk then.
        text = _wait_for_rollout_after_last_hup(error_log, offset)

    _report("HUP x3, 2 s apart", kept, fresh)
    print("rollouts: " + "; ".join(re.findall(r"reload: (.*)", text)))
    _assert_all_answered(kept, fresh)
    assert len(re.findall(ROLLED_OUT, text)) >= 2
    assert (stack.checkout / "pids/gunicorn-test.pid").read_text().strip() == master
    assert "RELOAD FAILED" not in read_from(error_log, offset)


def test_a_broken_revision_keeps_the_old_workers_serving_and_a_later_hup_serves_the_fix(running_stack):
    master = _program_pids(running_stack, "gunicorn")
    stack = running_stack
    url = _probe_url(stack)
    error_log = stack.log(ERROR_LOG)
    urls_py = stack.checkout / "project/urls.py"
    original = urls_py.read_text()
    marker = f"fixed-{uuid.uuid4().hex[:8]}"
    try:
        offset = log_size(error_log)
        urls_py.write_text(original + "\nimport a_module_this_revision_forgot  # noqa\n")
        with Load(url, threads=6, keep_alive=True) as kept, Load(url, threads=6) as fresh:
            _hup(stack, "miniprogram:gunicorn")
            failed = wait_for_log(error_log, offset, "RELOAD FAILED", timeout=90)
            _wait_for_more_answers(kept, fresh)  # the old workers still answer after the failure
            # A master re-exec onto the broken code is refused before anything is replaced.
            output = supervisorctl(stack.checkout, CONF, "signal", "USR2", "miniprogram:gunicorn", env=stack.env)
            assert "ERROR" not in output, output
            refused = wait_for_log(error_log, offset, "RE-EXEC REFUSED", timeout=90)
            _wait_for_more_answers(kept, fresh)
            # So is a HUP with a broken gunicorn.conf.py (stock Gunicorn's master exits on it).
            config = stack.checkout / "gunicorn.conf.py"
            good_config = config.read_text()
            config.write_text(good_config + "\nworkers = (\n")
            try:
                _hup(stack, "miniprogram:gunicorn")
                wait_for_log(error_log, offset, "RELOAD FAILED: gunicorn.conf.py", timeout=60)
            finally:
                config.write_text(good_config)
            _wait_for_more_answers(kept, fresh)
        _report("HUP and USR2 with a broken revision", kept, fresh)
        _assert_all_answered(kept, fresh)
        assert "No module named 'a_module_this_revision_forgot'" in failed  # the traceback is logged
        assert "No module named 'a_module_this_revision_forgot'" in refused[refused.index("RE-EXEC REFUSED") :]
        assert _program_pids(stack, "gunicorn") == master  # RUNNING, the same master

        urls_py.write_text(
            original
            + "\nfrom django.http import JsonResponse  # noqa: E402\n"
            + f'urlpatterns.insert(0, path("api/reload-marker", lambda request: JsonResponse({{"m": "{marker}"}})))\n'
        )
        _hup(stack, "miniprogram:gunicorn")
        assert wait_for_http(f"{stack.url}/api/reload-marker", timeout=90).json() == {"m": marker}
    finally:
        urls_py.write_text(original)
        offset = log_size(error_log)
        _hup(stack, "miniprogram:gunicorn")
        wait_for_log(error_log, offset, ROLLED_OUT, timeout=90)


def _enqueue_counted(redis_url: str, durations: list[float]) -> dict[str, str]:
    """Job id -> the Redis key its run count goes to (tests.jobs.sample_jobs.sleepy)."""
    connection = Redis.from_url(redis_url)
    jobs = {}
    for index, seconds in enumerate(durations):
        key = f"reload-job:{uuid.uuid4().hex}"
        queue = Queue(("high", "default", "low")[index % 3], connection=connection)
        jobs[queue.enqueue("tests.jobs.sample_jobs.sleepy", seconds, key, result_ttl=3600).id] = key
    return jobs


def _program_output(stack, exits: list[tuple[str, str]]) -> str:
    """The end of each named program's stdout/stderr log: why it exited."""
    names = sorted({name for name, _ in exits})
    renamed = {"rqworker_": "rqworker-test-", "rqscheduler": "rqscheduler-test", "rqforkserver": "rqforkserver-test"}
    logs = []
    for name in names:
        for program, log in renamed.items():
            name = name.replace(program, log)
        logs.append(stack.log(f"{name}.log"))
    return "\n".join(f"--- {log.name}:\n{read_from(log, 0)[-1500:]}" for log in logs)


def _program_names(stack, prefix: str) -> set[str]:
    output = supervisorctl(stack.checkout, CONF, "status", env=stack.env)
    return set(re.findall(rf"^miniprogram:({prefix}\S*)\s+RUNNING", output, re.M))


def _program_pids(stack, prefix: str) -> set[int]:
    output = supervisorctl(stack.checkout, CONF, "status", env=stack.env)
    return {int(pid) for pid in re.findall(rf"^miniprogram:{prefix}\S*\s+RUNNING\s+pid (\d+)", output, re.M)}


def _registrations_match_workers(stack, connection: Redis) -> bool:
    """One registration per running rqworker_NN program, under its name, each of a live process."""
    registered = Worker.all(connection=connection)
    running = _program_names(stack, "rqworker_")
    return (
        len(running) == len(registered) == 10
        and {worker.name.split(".")[0] for worker in registered} == running
        and all(Path(f"/proc/{worker.pid}").exists() for worker in registered)
    )


def test_hups_at_any_spacing_finish_every_job_once_and_every_worker_exit_is_expected(running_stack):
    stack = running_stack
    redis_url = stack.env["REDIS_URL"]
    connection = Redis.from_url(redis_url)
    supervisor_log = stack.log(SUPERVISOR_LOG)
    offset = log_size(supervisor_log)
    jobs = _enqueue_counted(redis_url, [1 + index % 3 for index in range(100)])  # 1-3 s each

    for pause in (0.5, 2, 8, 0):  # four HUPs: 0.5 s, 2 s and 8 s apart
        _hup(stack)
        time.sleep(pause)
    # And one more once Supervisor has restarted them all: it finds them starting, idle or busy.
    wait_for_log(supervisor_log, offset, r"spawned: 'rqworker_", count=10, timeout=120)
    _hup(stack)

    statuses = wait_jobs_finished(redis_url, list(jobs), timeout=240)
    runs = {job_id: int(connection.get(f"{key}:runs") or 0) for job_id, key in jobs.items()}
    wait_all_running(stack.checkout, CONF, stack.env, count=13, timeout=120)
    deadline = time.monotonic() + 60
    while not _registrations_match_workers(stack, connection) and time.monotonic() < deadline:
        time.sleep(0.5)

    exits = re.findall(r"exited: (rq\w+) \(([^)]*)\)", read_from(supervisor_log, offset))
    print(f"\n100 jobs, 5 HUPs: {len(exits)} RQ exits, {sum(runs.values())} runs; exits: {sorted(set(exits))}")
    assert set(statuses.values()) == {"finished"}, {s: list(statuses.values()).count(s) for s in set(statuses.values())}
    assert set(runs.values()) == {1}  # each job ran exactly once
    unexpected = [exit for exit in exits if not exit[1].endswith("; expected")]
    assert unexpected == [], _program_output(stack, unexpected)
    assert len(exits) >= 20  # the HUPs did restart the workers, twice
    assert "terminated by" not in read_from(supervisor_log, offset)
    assert _registrations_match_workers(stack, connection)  # 10 registrations, each a live worker


def test_usr2_replaces_the_master_in_place_under_load_and_fails_no_request(running_stack):
    stack = running_stack
    url = _probe_url(stack)
    error_log = stack.log(ERROR_LOG)
    offset = log_size(error_log)
    master = _program_pids(stack, "gunicorn")

    with Load(url, threads=6, keep_alive=True) as kept, Load(url, threads=6) as fresh:
        output = supervisorctl(stack.checkout, CONF, "signal", "USR2", "miniprogram:gunicorn", env=stack.env)
        assert "ERROR" not in output, output
        text = wait_for_log(error_log, offset, ROLLED_OUT, timeout=120)
        wait_for_log(error_log, offset, r"old worker \d+ exited", count=stack.workers, timeout=60)

    _report("USR2 (master re-exec)", kept, fresh)
    _assert_all_answered(kept, fresh)
    assert "re-exec'd in place" in text
    assert _program_pids(stack, "gunicorn") == master  # Supervisor still tracks the same, running PID
    assert (stack.checkout / "pids/gunicorn-test.pid").read_text().strip() == str(next(iter(master)))
