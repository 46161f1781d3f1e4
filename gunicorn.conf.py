"""Gunicorn settings: one master with gevent workers, in every environment.

Plain module variables, read by `gunicorn --config gunicorn.conf.py`. What
varies per machine comes from the environment (or the untracked `.env`).

Keep this module's imports to the standard library and python-dotenv: the
master imports it, and gevent monkey-patches each worker right after the fork,
before the worker loads Django. Importing the app (or anything that starts a
thread or imports ssl) here would make gevent patch too late
(`MonkeyPatchWarning`) - which is also why `preload_app` stays off.
"""

import multiprocessing
import os
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent
load_dotenv(ROOT / ".env", override=False)

# "project.settings_test" -> "test": names the pid file, control socket and logs,
# so a test stack and a debug stack in the same checkout never share a file.
SETTINGS = os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings_debug")
INSTANCE = "gunicorn-" + SETTINGS.rpartition("settings_")[2].replace(".", "-")

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
# greenlets) and HUP would not load new code. Must stay off.
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


def post_worker_init(worker) -> None:
    """Warm the worker and read its code revision, after gevent has patched it.

    Django loads the URLconf, and with it the API's modules, on the first
    request: done here, the first requests after a start or a HUP do not wait
    for it (it showed as 8% of a profiled benchmark run).
    """
    from django.apps import apps
    from django.urls import get_resolver

    from corelib.revision import current_revision

    if apps.ready:  # not when this config serves another WSGI app (bench/bare_wsgi.py)
        get_resolver().url_patterns  # noqa: B018 - evaluated for its side effect: the import
    worker.log.info("worker %s serving revision %s", worker.pid, current_revision())
