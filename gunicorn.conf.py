"""Gunicorn settings: one master with gevent workers, in every environment.

Plain module variables, read by `gunicorn --config gunicorn.conf.py`. What
varies per machine comes from the environment (or the untracked `.env`).

Keep this module's imports to the standard library and python-dotenv: the
master imports it, and gevent monkey-patches the app template (the process
that loads the app once for a generation of workers, corelib.gunicorn_template)
right after its fork, before it loads Django. Importing the app (or anything
that starts a thread or imports ssl) here would make gevent patch too late
(`MonkeyPatchWarning`) - which is also why `preload_app` stays off.
"""

import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path

from dotenv import load_dotenv

# absolute(), not resolve(): under /srv/x/current -> releases/R a HUP must load the release
# `current` points to then, not the one it pointed to when the master started.
ROOT = Path(__file__).absolute().parent
load_dotenv(ROOT / ".env", override=False)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from corelib.gunicorn_arbiter import use_rolling_arbiter  # noqa: E402 - needs ROOT on sys.path
from corelib.gunicorn_paths import instance_name, metrics_dir  # noqa: E402 - needs ROOT on sys.path

# HUP starts the new workers and retires the old ones only once the new ones are ready;
# USR2 re-execs the master in place (corelib/gunicorn_arbiter.py, README "Reload").
use_rolling_arbiter()

# The master and its workers log in settings.TIME_ZONE, like the app: Django sets TZ only in the workers, and
# only once they load it. Default as in project/settings.py. Gunicorn's lines carry the offset (%z).
os.environ["TZ"] = os.environ.get("TIME_ZONE") or "Asia/Shanghai"
time.tzset()

# "project.settings_test" -> "test": names the pid file, control socket and logs,
# so a test stack and a debug stack in the same checkout never share a file.
SETTINGS = os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")
INSTANCE = instance_name(SETTINGS)

wsgi_app = "project.wsgi:application"
chdir = str(ROOT)
# "127.0.0.1:8000", "unix:/path/app.sock", or several separated by commas.
bind = [item.strip() for item in os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if item.strip()]
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "corelib.gunicorn_worker.FairGeventWorker"
# Concurrent clients per worker. Database use is bounded separately
# (corelib.db.mysql, DB_POOL_SIZE), so this can stay high for slow clients.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2000))
# With gevent: preload makes every request fail (a DB wrapper shared across
# greenlets) and HUP would not load new code. Must stay off: the workers share
# the app through their generation's template instead (GUNICORN_SHARED_APP=0: each loads its own).
preload_app = False
backlog = int(os.environ.get("GUNICORN_BACKLOG", 2048))

# `timeout` is the worker heartbeat: under gevent it only fires when a worker's
# event loop is blocked (CPU-bound code, a C call that does not yield), not for
# a slow request. 30 s leaves room for a slow admin page.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On HUP/TERM old workers get this long to finish their in-flight requests. The
# longest API request is bounded by the WeChat timeouts (2 s + 5 s) and
# DB_POOL_TIMEOUT, so 30 s drains everything; Supervisor's stopwaitsecs is longer.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
# nginx keeps upstream connections open; a little longer than a client's pause.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Replace a worker after this many requests (0: never), each at a random point up to the jitter
# later so they do not restart together. Off: after 10 minutes of mixed load the workers were
# 1.5 MB each above their idle size (make bench MEMORY=1); the README's small-server profile
# says when to set it.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 0))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 0))
# A request line/header bigger than this is refused before reaching Django.
limit_request_line = 8190

proc_name = f"miniprogram-{INSTANCE}"
pidfile = str(ROOT / "pids" / f"{INSTANCE}.pid")
# gunicorn 27 opens a control socket (~/.gunicorn/gunicorn.ctl by default):
# keep it inside the checkout, one per instance. `manage.py runtime_stats` reads it.
control_socket = str(ROOT / "socks" / f"{INSTANCE}.ctl")
control_socket_mode = 0o600

# Under Supervisor (which sets SUPERVISOR_ENABLED) logs go to stdout/stderr and
# Supervisor writes them to logs/ with rotation: one writer, no lost lines.
# Run by hand, Gunicorn writes the files in logs/ itself.
_supervised = bool(os.environ.get("SUPERVISOR_ENABLED"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-" if _supervised else str(ROOT / "logs" / f"{INSTANCE}-access.log"))
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-" if _supervised else str(ROOT / "logs" / f"{INSTANCE}-error.log"))
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address nginx passes (X-Forwarded-For / X-Real-IP) and the time taken.
access_log_format = '%(h)s "%({x-forwarded-for}i)s" %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Prometheus (corelib.metrics): the workers inherit this before they import prometheus_client, so their values
# land in files there and /metrics or `manage.py top` reads all workers at once. Never import prometheus_client
# here: it imports ssl, which must wait for gevent's patch in each worker.
METRICS_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or metrics_dir(ROOT, INSTANCE, bind[0]))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)


def on_starting(server) -> None:
    """A new master: the previous one's values are stale."""
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True, exist_ok=True)


def on_exit(server) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)


def child_exit(server, worker) -> None:
    """What prometheus_client's mark_process_dead does: a dead worker's live gauges go (its counters stay)."""
    for path in METRICS_DIR.glob(f"gauge_live*_{worker.pid}.db"):
        path.unlink(missing_ok=True)


def pre_request(worker, req) -> None:
    from corelib import metrics

    req.metrics_started = metrics.request_started()


def post_request(worker, req, environ, resp) -> None:
    from corelib import metrics

    metrics.request_finished(getattr(req, "metrics_started", None), getattr(resp, "status_code", None))


def worker_exit(server, worker) -> None:
    """A worker that stops writes out the request counts it has not flushed yet (corelib.metrics)."""
    from corelib import metrics

    metrics.flush()


def post_worker_init(worker) -> None:
    """Log the code revision the worker serves, once gevent has patched it and the app is loaded.

    Loading the app (project.wsgi) already imported the URLconf and the API's
    modules (corelib/wsgi.py). When this returns the worker is ready: the
    master's RollingArbiter retires an old generation only once every new
    worker got here (corelib/gunicorn_arbiter.py).
    """
    from corelib import metrics
    from corelib.dbpool import open_pools
    from corelib.revision import current_revision

    metrics.worker_started()
    open_pools()
    worker.log.info("worker %s serving revision %s", worker.pid, current_revision())
