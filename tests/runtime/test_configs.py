"""What the ops files promise, read straight from them (the stack tests run them for real)."""

import configparser
import multiprocessing
import os
import runpy

import pytest
from django.conf import settings

from tests.support import PROJECT_ROOT

CONFS = {
    "supervisord_test.conf": ("project.settings_test", 10),
    "supervisord_master.conf": ("project.settings_master", 10),
    "supervisord_debug.conf": ("project.settings_debug", 2),
}


def read(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(PROJECT_ROOT / name)
    return parser


@pytest.mark.parametrize("name", sorted(CONFS))
def test_each_supervisor_file_runs_the_whole_stack_safely(name):
    conf = read(name)
    settings_module, workers = CONFS[name]
    assert conf["unix_http_server"]["chmod"] == "0700"
    assert conf["unix_http_server"]["file"].startswith("%(here)s/socks/")
    assert conf["supervisord"]["pidfile"].startswith("%(here)s/pids/")
    assert conf["supervisord"]["logfile"].startswith("%(here)s/logs/")
    assert f'DJANGO_SETTINGS_MODULE="{settings_module}"' in conf["supervisord"]["environment"]
    assert conf["group:miniprogram"]["programs"] == "gunicorn,rqworker,rqscheduler"
    worker = conf["program:rqworker"]
    assert int(worker["numprocs"]) == workers
    assert worker["process_name"] == "%(program_name)s_%(process_num)02d"
    assert "rqworker high default low" in worker["command"]
    assert "--name" not in worker["command"]
    longest_job = max(queue["DEFAULT_TIMEOUT"] for queue in settings.RQ_QUEUES.values())
    assert int(worker["stopwaitsecs"]) > longest_job
    assert "run_scheduler" in conf["program:rqscheduler"]["command"]
    # Background work yields the CPU to Gunicorn's workers booting after a reload.
    assert worker["command"].startswith("nice -n 10 ")
    assert conf["program:rqscheduler"]["command"].startswith("nice -n 10 ")
    assert not conf["program:gunicorn"]["command"].startswith("nice")
    for section in (s for s in conf.sections() if s.startswith("program:")):
        program = conf[section]
        assert program["stopasgroup"] == program["killasgroup"] == "true", section
        assert program["autorestart"] == "true", section
        assert program["command"].removeprefix("nice -n 10 ").startswith("%(here)s/.venv/bin/"), section
        for key in ("stdout_logfile", "stderr_logfile"):
            if key in program:
                assert program[key].startswith("%(here)s/logs/"), section
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
