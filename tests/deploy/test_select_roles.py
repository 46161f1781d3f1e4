"""deploy/select_roles.py: a release keeps the Supervisor programs of its host's roles."""

import configparser
import shutil
import subprocess

import pytest

from tests.support import PROJECT_ROOT, PYTHON

PARSE = """
import sys
from supervisor.options import ServerOptions
options = ServerOptions()
options.realize(["-c", sys.argv[1]])
for group in options.process_group_configs:
    for process in group.process_configs:
        print(f"{group.name}:{process.name} {process.directory}")
"""


def supervisor_programs(checkout) -> list[str]:
    """What supervisord would run from this checkout's supervisord_test.conf, parsed by Supervisor itself."""
    for folder in ("logs", "pids", "socks"):
        (checkout / folder).mkdir(exist_ok=True)
    result = subprocess.run(
        [PYTHON, "-c", PARSE, str(checkout / "supervisord_test.conf")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [line.split()[0] for line in result.stdout.splitlines()]


@pytest.fixture
def checkout(tmp_path):
    shutil.copy2(PROJECT_ROOT / "supervisord_test.conf", tmp_path)
    shutil.copytree(PROJECT_ROOT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def select(checkout, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(checkout / "deploy/select_roles.py"), *args], capture_output=True, text=True, timeout=30
    )


def test_a_checkout_runs_every_role(checkout):
    programs = supervisor_programs(checkout)
    assert sorted(programs) == sorted(
        ["miniprogram:gunicorn", "miniprogram:rqforkserver", "miniprogram:rqscheduler"]
        + [f"miniprogram:rqworker_{n:02d}" for n in range(10)]
    )


def test_a_web_host_runs_only_gunicorn(checkout):
    assert select(checkout, "--roles", "web").returncode == 0
    assert supervisor_programs(checkout) == ["miniprogram:gunicorn"]


def test_a_worker_host_runs_its_count_of_workers_and_the_scheduler(checkout):
    assert select(checkout, "--roles", "worker,scheduler", "--workers", "2").returncode == 0
    assert sorted(supervisor_programs(checkout)) == [
        "miniprogram:rqforkserver",
        "miniprogram:rqscheduler",
        "miniprogram:rqworker_00",
        "miniprogram:rqworker_01",
    ]


def scheduler_command(checkout) -> str:
    conf = configparser.RawConfigParser()
    conf.read(checkout / "deploy/supervisor/scheduler.conf")
    return conf["program:rqscheduler"]["command"]


def test_with_the_workers_the_scheduler_is_forked_by_their_fork_server(checkout):
    assert select(checkout, "--roles", "worker,scheduler", "--workers", "2").returncode == 0
    assert scheduler_command(checkout).endswith(
        "-m corelib.rq_relay socks/rqworkers-%(ENV_MINIPROGRAM_ENV)s.sock scheduler"
    )


@pytest.mark.parametrize("roles", ["scheduler", "web,scheduler"])
def test_without_the_workers_the_scheduler_runs_on_its_own(checkout, roles):
    assert select(checkout, "--roles", roles).returncode == 0

    assert "miniprogram:rqforkserver" not in supervisor_programs(checkout)
    assert "miniprogram:rqscheduler" in supervisor_programs(checkout)
    command = scheduler_command(checkout)
    # As Supervisor must start a process that loads Django itself (corelib/hangup.py: nohup; nice as rqforkserver).
    assert command.startswith("nohup nice -n 10 %(ENV_MINIPROGRAM_ROOT)s/.venv/bin/python ")
    assert command.endswith("/manage.py run_scheduler")
    assert "; standalone:" not in (checkout / "deploy/supervisor/scheduler.conf").read_text()


def test_it_refuses_an_unknown_role(checkout):
    result = select(checkout, "--roles", "web,cron")
    assert result.returncode != 0
    assert "unknown role(s): cron" in result.stderr
