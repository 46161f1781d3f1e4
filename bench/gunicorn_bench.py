"""The project's gunicorn.conf.py as it is, with only its file paths moved into the bench run's directory.

The access log is off, as it is for every peer (uWSGI --disable-logging, granian --no-access-log, nginx access_log off).
"""

import os
from pathlib import Path

_project_config = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
exec(compile(_project_config.read_text(), str(_project_config), "exec"))  # noqa: S102 - our own config file

_run_dir = Path(os.environ["BENCH_RUN_DIR"])
pidfile = str(_run_dir / f"gunicorn-{os.environ.get('BENCH_SERVER', 'x')}.pid")
control_socket = str(_run_dir / f"gunicorn-{os.environ.get('BENCH_SERVER', 'x')}.ctl")
accesslog = None
errorlog = str(_run_dir / f"gunicorn-{os.environ.get('BENCH_SERVER', 'x')}-error.log")
loglevel = "warning"
if os.environ.get("BENCH_WSGI_APP"):
    wsgi_app = os.environ["BENCH_WSGI_APP"]
if os.environ.get("BENCH_WORKER_CLASS"):
    worker_class = os.environ["BENCH_WORKER_CLASS"]
    threads = int(os.environ.get("BENCH_THREADS", "1"))
