"""Gunicorn settings: gevent workers, as the service is run in every environment."""

import multiprocessing
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

wsgi_app = "project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gevent"
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", 2000))
preload_app = False  # with gevent, preload breaks every request and HUP reloads no code
timeout = 30
graceful_timeout = 30
keepalive = 5
proc_name = "miniprogram-gunicorn"
pidfile = str(ROOT / "pids" / "gunicorn.pid")
control_socket = str(ROOT / "socks" / "gunicorn.ctl")
accesslog = str(ROOT / "logs" / "gunicorn-access.log")
errorlog = str(ROOT / "logs" / "gunicorn-error.log")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
