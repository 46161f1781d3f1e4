"""A real Gunicorn with the production gevent worker on this run's databases, for tests over HTTP."""

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_for_http


@contextmanager
def gunicorn(env: dict, workers: int = 1, access_log: Path | None = None) -> Iterator[str]:
    """Serve project.wsgi:application; yields the base URL."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".py") as empty_config:  # not the project's gunicorn.conf.py
        command = [str(Path(PYTHON).parent / "gunicorn"), "project.wsgi:application", "--config", empty_config.name]
        command += ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]
        # Production's worker class and request-line limit (gunicorn.conf.py).
        command += ["--worker-class", "corelib.gunicorn_worker.FairGeventWorker", "--limit-request-line", "8190"]
        command += ["--workers", str(workers)]
        if access_log is not None:
            command += ["--access-logfile", str(access_log)]
        # Its tests empty the tables between them: a mini-program's row kept across that would be a row gone.
        env = {"MINI_PROGRAM_KEEP_SECONDS": "0", **env}
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(process)
