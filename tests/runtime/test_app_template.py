"""A generation of Gunicorn workers imports the app once, in its app template (corelib.gunicorn_template).

Runs Gunicorn with the project's gunicorn.conf.py (the RollingArbiter and the
production worker class) on a tiny app that logs each import of itself.
"""

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.runtime.stack import log_size, wait_for_log
from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_http

pytestmark = pytest.mark.django_db(databases="__all__")

WORKERS = 3
APP = """
import os

with open(os.environ["IMPORTS_LOG"], "a") as log:
    log.write(f"{{os.getpid()}}\\n")
{extra}
VERSION = {version!r}


def application(environ, start_response):
    body = VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""
ROLLED_OUT = r"reload: \d+ new workers ready"


class Server:
    def __init__(self, tmp_path: Path, shared: bool):
        self.dir = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.error_log = tmp_path / "error.log"
        self.imports_log = tmp_path / "imports.log"
        self.argv = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(WORKERS),
            "--pid", str(tmp_path / "gunicorn.pid"),
            "--control-socket", str(tmp_path / "gunicorn.ctl"),
            "--error-logfile", str(self.error_log),
            "--access-logfile", str(tmp_path / "access.log"),
            "--pythonpath", str(tmp_path),
            "tinyapp:application",
        ]  # fmt: skip
        self.env = subprocess_env(
            IMPORTS_LOG=self.imports_log,
            GUNICORN_SHARED_APP="1" if shared else "0",
            PROMETHEUS_MULTIPROC_DIR=tmp_path / "metrics",
            PYTHONDONTWRITEBYTECODE=1,
        )
        self.process: subprocess.Popen | None = None

    def write_app(self, version: str, extra: str = "") -> None:
        (self.dir / "tinyapp.py").write_text(APP.format(version=version, extra=extra))

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, cwd=self.dir, env=self.env, stdout=subprocess.DEVNULL)

    def imports(self) -> list[str]:
        return self.imports_log.read_text().split() if self.imports_log.exists() else []

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture
def server(tmp_path):
    servers = []

    def make(shared: bool) -> Server:
        servers.append(Server(tmp_path / f"s{len(servers)}", shared))
        servers[-1].dir.mkdir()
        return servers[-1]

    yield make
    for each in servers:
        each.stop()


def test_a_generation_imports_the_app_once_and_a_hup_imports_the_new_code_once(server):
    shared = server(shared=True)
    shared.write_app("first")
    shared.start()
    assert wait_for_http(shared.url, timeout=60).text == "first"
    wait_for_log(shared.error_log, 0, r"worker \d+ serving revision", count=WORKERS)
    template = re.search(r"app template (\d+) loaded the app", shared.error_log.read_text()).group(1)
    assert shared.imports() == [template]  # once, in the template; none in the three workers

    offset = log_size(shared.error_log)
    shared.write_app("second version")
    shared.process.send_signal(signal.SIGHUP)
    wait_for_log(shared.error_log, offset, ROLLED_OUT)
    wait_for_log(shared.error_log, offset, r"old worker \d+ exited", count=WORKERS)
    assert {requests.get(shared.url, timeout=10).text for _ in range(20)} == {"second version"}
    assert len(shared.imports()) == 2  # the new generation's template imported the new code

    # Control: each worker loading the app itself imports it once per worker.
    stock = server(shared=False)
    stock.write_app("first")
    stock.start()
    wait_for_http(stock.url, timeout=60)
    wait_for_log(stock.error_log, 0, r"worker \d+ serving revision", count=WORKERS)
    assert len(stock.imports()) == WORKERS


def test_an_app_that_cannot_load_at_the_first_start_stops_the_master_with_its_traceback(server):
    broken = server(shared=True)
    broken.write_app("never", extra="import a_module_this_app_forgot\n")
    broken.start()
    assert broken.process.wait(timeout=120) != 0  # Supervisor then shows the program as failed, as with stock
    log = broken.error_log.read_text()
    assert "No module named 'a_module_this_app_forgot'" in log
    assert "could not load the app" in log
