"""The service's WSGI app for uWSGI's gevent mode: monkey-patch before Django is imported.

uWSGI's --gevent-monkey-patch patches after --lazy-apps has loaded the app, so
Django's per-thread connection holder is created unpatched and every request
fails with "DatabaseWrapper objects created in a thread can only be used in that
same thread" (gunicorn's gevent worker patches first, before loading the app).

BENCH_GEVENT_APP_MODULE names a bench variant of the app to load instead of
project.wsgi (its `application`), patched first all the same.
"""

from gevent import monkey

monkey.patch_all()

import importlib  # noqa: E402 - after patch_all, like everything else here
import os  # noqa: E402

application = importlib.import_module(os.environ.get("BENCH_GEVENT_APP_MODULE", "project.wsgi")).application

__all__ = ["application"]
