"""The service's WSGI app for uWSGI's gevent mode: monkey-patch before Django is imported.

uWSGI's --gevent-monkey-patch patches after --lazy-apps has loaded the app, so
Django's per-thread connection holder is created unpatched and every request
fails with "DatabaseWrapper objects created in a thread can only be used in that
same thread" (gunicorn's gevent worker patches first, before loading the app).
"""

from gevent import monkey

monkey.patch_all()

from project.wsgi import application  # noqa: E402 - must come after patch_all

__all__ = ["application"]
