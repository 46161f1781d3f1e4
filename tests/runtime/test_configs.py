"""What the ops files promise, read straight from them (the stack tests run them for real)."""

import configparser
import multiprocessing
import os
import runpy

import pytest
from django.conf import settings

from corelib.hangup import START_PERIOD
from tests.support import PROJECT_ROOT

CONFS = {
    "supervisord_test.conf": ("project.settings_test", 10),
    "supervisord_master.conf": ("project.settings_master", 10),
    "supervisord_debug.conf": ("project.settings_debug", 2),
}


def read(name: str) -> configparser.RawConfigParser:
    """The file with its [include]d parts, as Supervisor reads it (patterns relative to the file)."""
    parser = configparser.RawConfigParser()
    parser.read(PROJECT_ROOT / name)
    if parser.has_section("include"):
        for pattern in parser["include"]["files"].split():
            parser.read(sorted((PROJECT_ROOT / name).parent.glob(pattern)))
    return parser


def program_root(conf: configparser.RawConfigParser) -> str:
    """What program paths start from: the file's directory, directly or through MINIPROGRAM_ROOT."""
    if 'MINIPROGRAM_ROOT="%(here)s"' in conf["supervisord"]["environment"]:
        return "%(ENV_MINIPROGRAM_ROOT)s"
    return "%(here)s"


@pytest.mark.parametrize("name", sorted(CONFS))
def test_each_supervisor_file_runs_the_whole_stack_safely(name):
    conf = read(name)
    settings_module, workers = CONFS[name]
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert conf["unix_http_server"]["file"].startswith("%(here)s/socks/")
    assert conf["supervisord"]["pidfile"].startswith("%(here)s/pids/")
    assert conf["supervisord"]["logfile"].startswith("%(here)s/logs/")
    assert f'DJANGO_SETTINGS_MODULE="{settings_module}"' in conf["supervisord"]["environment"]
    worker = conf["program:rqworker"]
    assert int(worker["numprocs"]) == workers
    assert worker["process_name"] == "%(program_name)s_%(process_num)02d"
    assert "--name" not in worker["command"]
    longest_job = max(queue["DEFAULT_TIMEOUT"] for queue in settings.RQ_QUEUES.values())
    assert int(worker["stopwaitsecs"]) > longest_job
    scheduler = conf["program:rqscheduler"]
    if conf.has_section("program:rqforkserver"):
        # Ten relays, each getting its worker from one Django parent (corelib/rq_forkserver.py).
        assert conf["group:miniprogram"]["programs"] == "gunicorn,rqforkserver,rqworker,rqscheduler"
        forkserver = conf["program:rqforkserver"]
        socket_path = forkserver["command"].split("rqworker_forkserver ")[1].split()[0]
        assert socket_path.startswith("socks/")  # relative to `directory`: shared by every release
        assert forkserver["command"].endswith(f"rqworker_forkserver {socket_path} high default low")
        assert worker["command"].endswith(f"-m corelib.rq_relay {socket_path}")
        assert worker["command"].startswith("nohup ")
        assert forkserver["directory"] == worker["directory"]
        # The scheduler too is forked from it (deploy/select_roles.py gives a host without workers its own).
        assert scheduler["command"].endswith(f"-m corelib.rq_relay {socket_path} scheduler")
        assert scheduler["command"].startswith("nohup ")
        assert scheduler["directory"] == forkserver["directory"]
        niced = (forkserver,)
    else:
        assert conf["group:miniprogram"]["programs"] == "gunicorn,rqworker,rqscheduler"
        assert "rqworker high default low" in worker["command"]
        assert scheduler["command"].endswith("manage.py run_scheduler")
        niced = (worker, scheduler)
    # Background work yields the CPU to Gunicorn's workers booting after a reload, and a HUP
    # while it starts must not kill it (nohup; manage.py holds the HUP until its handler exists).
    for background in niced:
        assert background["command"].startswith("nohup nice -n 10 ")
        # A worker told to stop sooner waits out startsecs, so Supervisor calls its exit expected.
        assert float(background["startsecs"]) < START_PERIOD
    assert float(worker["startsecs"]) < START_PERIOD
    assert float(scheduler["startsecs"]) < START_PERIOD
    assert not conf["program:gunicorn"]["command"].startswith(("nice", "nohup"))
    root = program_root(conf)
    for section in (s for s in conf.sections() if s.startswith("program:")):
        program = conf[section]
        assert program["stopasgroup"] == program["killasgroup"] == "true", section
        assert program["autorestart"] == "true", section
        command = program["command"].removeprefix("nohup ").removeprefix("nice -n 10 ")
        assert command.startswith(f"{root}/.venv/bin/"), section
        for key in ("stdout_logfile", "stderr_logfile"):
            if key in program:
                assert program[key].startswith(f"{root}/logs/"), section
                assert key + "_maxbytes" in program and key + "_backups" in program, section


def test_gunicorn_settings(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "project.settings_test")
    config = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert config["worker_class"] == "corelib.gunicorn_worker.FairGeventWorker"
    assert config["preload_app"] is False
    assert config["workers"] == 2 * multiprocessing.cpu_count() + 1
    assert config["worker_connections"] == 2000
    assert config["graceful_timeout"] < int(read("supervisord_test.conf")["program:gunicorn"]["stopwaitsecs"])
    for path in ("pidfile", "control_socket"):
        assert config[path].startswith(str(PROJECT_ROOT) + os.sep)
    assert config["pidfile"].endswith("pids/gunicorn-test.pid")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_BIND", "unix:/tmp/app.sock,127.0.0.1:9000")
    config = runpy.run_path(str(PROJECT_ROOT / "gunicorn.conf.py"))
    assert config["workers"] == 3
    assert config["bind"] == ["unix:/tmp/app.sock", "127.0.0.1:9000"]
