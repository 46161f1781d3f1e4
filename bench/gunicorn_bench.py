"""The project's gunicorn.conf.py as it is, with only its file paths moved into the bench run's directory
(and, for the reload case only, BENCH_ARBITER=stock: Gunicorn's stock master).

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
if os.environ.get("BENCH_ARBITER") == "stock":
    # Bench only (the reload case's "before"): Gunicorn's own master, which on HUP stops the old workers at once,
    # in place of the RollingArbiter the project config installs. The app looks the class up when it starts
    # the master, after reading this file; a HUP re-reads it but keeps the running master.
    import gunicorn.app.base
    import gunicorn.arbiter

    gunicorn.app.base.Arbiter = gunicorn.arbiter.Arbiter
