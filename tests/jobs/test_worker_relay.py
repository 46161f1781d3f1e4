"""RQ workers and the scheduler forked from one parent, each stood in for by a relay that Supervisor runs."""

import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import django_rq
import pytest
from rq import Worker
from rq.job import Job, JobStatus

from corelib.models import OutboxJob
from tests.jobs.conftest import QUEUES, wait_until
from tests.runtime.stack import copy_checkout
from tests.support import PROJECT_ROOT, PYTHON, stop_process, subprocess_env


class ForkServerStack:
    """`manage.py rqworker_forkserver` and relays started as Supervisor starts them (nohup)."""

    def __init__(self, folder: Path, redis_conn, root: Path = PROJECT_ROOT, **env):
        self.folder = folder
        self.root = root
        self.socket = str(folder / "rq.sock")  # a short path: unix socket paths are limited to 108 bytes
        self.redis = redis_conn
        self.env = subprocess_env(WECHAT_API_BASE="http://127.0.0.1:9", PYTHONPATH=root, LOG_DIR=folder, **env)
        self.processes: list[subprocess.Popen] = []
        self.server = self._start("server", [PYTHON, "manage.py", "rqworker_forkserver", self.socket, *QUEUES])

    def _start(self, name: str, command: list[str], **env) -> subprocess.Popen:
        with (self.folder / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                ["nohup", *command], cwd=self.root, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def start_relay(self, program: str) -> subprocess.Popen:
        relay = self._start(
            program, [PYTHON, "-S", "-m", "corelib.rq_relay", self.socket], SUPERVISOR_PROCESS_NAME=program
        )
        wait_until(lambda: self.worker(program) is not None, 60, f"{program}'s worker to register")
        return relay

    def start_scheduler_relay(self) -> subprocess.Popen:
        """The `rqscheduler` program as scheduler.conf runs it; returns once its scheduler has started."""
        started = len(self.scheduler_starts())
        relay = self._start(
            "rqscheduler",
            [PYTHON, "-S", "-m", "corelib.rq_relay", self.socket, "scheduler"],
            SUPERVISOR_PROCESS_NAME="rqscheduler",
        )
        wait_until(lambda: len(self.scheduler_starts()) > started, 60, "the forked scheduler to start")
        return relay

    def scheduler_starts(self) -> list[str]:
        """The scheduler's "started" lines in rq.log (its file log), oldest first."""
        log = self.folder / "rq.log"
        return re.findall(r"scheduler \w+ started.*", log.read_text(errors="replace")) if log.exists() else []

    def scheduler_pid(self) -> int:
        return int(re.findall(r"scheduler pid (\d+)", self.log("rqscheduler"))[-1])

    def worker(self, program: str) -> Worker | None:
        found = [w for w in Worker.all(connection=self.redis) if w.name.split(".")[0] == program]
        return found[0] if found else None

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            stop_process(process, timeout=20)


@pytest.fixture
def forkserver(redis_conn, django_db_setup):
    with tempfile.TemporaryDirectory(prefix="rqfs-") as folder:
        stack = ForkServerStack(Path(folder), redis_conn)
        try:
            yield stack
        finally:
            stack.stop()


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_worker_writes_to_its_relays_log_and_registers_under_its_program_name(forkserver):
    relay = forkserver.start_relay("rqworker_07")
    worker = forkserver.worker("rqworker_07")

    assert worker.pid != relay.pid
    assert os.getpgid(worker.pid) == worker.pid  # its own group: only its relay's signals reach it
    assert f"worker pid {worker.pid}" in forkserver.log("rqworker_07")
    assert os.readlink(f"/proc/{worker.pid}/fd/1") == os.readlink(f"/proc/{relay.pid}/fd/1")  # its log


def test_hups_to_the_relay_let_the_job_finish_once_and_the_relay_exits_0(forkserver, redis_conn, key):
    relay = forkserver.start_relay("rqworker_00")
    worker_pid = forkserver.worker("rqworker_00").pid
    job = django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 4, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    for _ in range(3):  # a reload is a warm stop however many HUPs come
        relay.send_signal(signal.SIGHUP)

    assert relay.wait(timeout=40) == 0, forkserver.log("rqworker_00")
    assert int(redis_conn.get(f"{key}:runs")) == 1
    assert Job.fetch(job.id, connection=redis_conn).get_status() == JobStatus.FINISHED
    assert forkserver.worker("rqworker_00") is None
    wait_until(lambda: not _alive(worker_pid), 10, "the worker to be reaped")


def test_a_killed_relay_leaves_its_job_to_finish_and_its_worker_stops(forkserver, redis_conn, key):
    relay = forkserver.start_relay("rqworker_01")
    worker_pid = forkserver.worker("rqworker_01").pid
    django_rq.get_queue("default").enqueue("tests.jobs.sample_jobs.sleepy", 3, key)
    wait_until(lambda: redis_conn.get(f"{key}:pid"), 20, "the job to start")

    relay.send_signal(signal.SIGKILL)  # as when Supervisor gives up on a relay

    wait_until(lambda: not _alive(worker_pid), 40, "the orphaned worker to stop")
    assert int(redis_conn.get(f"{key}:runs")) == 1
    assert forkserver.worker("rqworker_01") is None  # a new relay will not make an eleventh worker


def test_a_worker_killed_by_a_signal_kills_its_relay_the_same_way(forkserver):
    relay = forkserver.start_relay("rqworker_02")

    os.kill(forkserver.worker("rqworker_02").pid, signal.SIGKILL)

    assert relay.wait(timeout=20) == -signal.SIGKILL  # Supervisor logs it as not expected


def test_a_hup_reexecs_the_fork_server_in_place_and_its_workers_carry_on(forkserver):
    forkserver.start_relay("rqworker_03")
    before = forkserver.worker("rqworker_03").pid

    forkserver.server.send_signal(signal.SIGHUP)
    wait_until(lambda: forkserver.log("server").count("serving on") == 2, 60, "the re-exec'd server to serve")
    forkserver.start_relay("rqworker_04")  # served by the new image

    assert forkserver.server.poll() is None  # the same process: Supervisor keeps tracking it
    assert forkserver.worker("rqworker_03").pid == before
    assert "re-exec" in forkserver.log("server")


def test_a_relay_started_before_the_fork_server_waits_for_it(redis_conn, django_db_setup):
    with tempfile.TemporaryDirectory(prefix="rqfs-") as folder:
        socket_path = str(Path(folder) / "rq.sock")
        env = subprocess_env(WECHAT_API_BASE="http://127.0.0.1:9", SUPERVISOR_PROCESS_NAME="rqworker_05")
        relay = subprocess.Popen(
            [PYTHON, "-S", "-m", "corelib.rq_relay", socket_path],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack = ForkServerStack(Path(folder), redis_conn)
        stack.processes.insert(0, relay)
        try:
            wait_until(lambda: stack.worker("rqworker_05") is not None, 60, "the relay's worker to register")
        finally:
            stack.stop()


@pytest.fixture
def no_schedules_left(redis_conn):
    yield
    from rq_scheduler import Scheduler

    redis_conn.delete(Scheduler.scheduled_jobs_key)
    for name in QUEUES:
        django_rq.get_queue(name).empty()


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_forked_scheduler_runs_the_schedules_and_its_jobs_reach_the_workers(
    redis_conn, key, django_db_setup, no_schedules_left
):
    row = OutboxJob.objects.create(func_path="tests.jobs.sample_jobs.count", args=[key], queue="default")
    with tempfile.TemporaryDirectory(prefix="rqfs-") as folder:
        stack = ForkServerStack(Path(folder), redis_conn, SCHEDULER_INTERVAL=1, OUTBOX_RELAY_INTERVAL=1)
        try:
            stack.start_relay("rqworker_00")
            relay = stack.start_scheduler_relay()
            scheduler = stack.scheduler_pid()

            # The outbox relay, a scheduled job, ran on the worker and pushed the pending job, which ran once.
            wait_until(lambda: redis_conn.get(f"{key}:runs"), 40, "the relayed job to run")
            assert "schedules registered" in stack.log("rq")
            assert _parent(scheduler) == stack.server.pid  # forked, sharing the server's Django
            assert os.readlink(f"/proc/{scheduler}/fd/1") == os.readlink(f"/proc/{relay.pid}/fd/1")  # its log
        finally:
            stack.stop()
    row.refresh_from_db()
    assert row.sent_at is not None
    assert int(redis_conn.get(f"{key}:runs")) == 1


def test_hups_restart_the_forked_scheduler_warmly_on_the_code_on_disk(
    redis_conn, tmp_path, django_db_setup, no_schedules_left
):
    checkout = copy_checkout(tmp_path / "app")
    with tempfile.TemporaryDirectory(prefix="rqfs-") as folder:
        stack = ForkServerStack(Path(folder), redis_conn, root=checkout)
        try:
            relay = stack.start_scheduler_relay()
            before = stack.scheduler_pid()
            # A deploy: new code on disk, then `signal HUP all` reaches the scheduler's relay and the server.
            scheduler_py = checkout / "corelib/scheduler.py"
            scheduler_py.write_text(scheduler_py.read_text().replace("started, checking", "started anew, checking"))
            for _ in range(3):  # however many HUPs: one warm stop
                relay.send_signal(signal.SIGHUP)
            stack.server.send_signal(signal.SIGHUP)

            assert relay.wait(timeout=40) == 0, stack.log("rqscheduler")  # Supervisor: an expected exit
            assert "scheduler: SIGHUP received, exiting after this pass" in stack.log("rq")
            assert re.search(r"scheduler \w+ stopped", stack.log("rq"))  # deregistered, after its pass
            wait_until(lambda: not _alive(before), 10, "the old scheduler to be reaped")
            wait_until(lambda: stack.log("server").count("serving on") == 2, 60, "the re-exec'd server to serve")
            stack.start_scheduler_relay()  # Supervisor starts the program again

            assert "started anew, checking every" in stack.scheduler_starts()[-1]
            assert _parent(stack.scheduler_pid()) == stack.server.pid
        finally:
            stack.stop()


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
