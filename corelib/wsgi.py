"""One Django app, two middleware chains: the full one for the admin, a lean one for /api/.

The API authenticates every request with a bearer token, never a cookie, so
sessions, CSRF, auth, messages and clickjacking middleware do nothing for it
but cost time on every request (about 17% of a cached board read, profiled with
bench/profile.py). Paths under API_PREFIX go through API_MIDDLEWARE; everything
else (the admin, django-rq's pages) through MIDDLEWARE, unchanged.
"""

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

API_PREFIX = "/api/"


class ApiWSGIHandler(WSGIHandler):
    """A WSGIHandler built from settings.API_MIDDLEWARE instead of settings.MIDDLEWARE."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads settings.MIDDLEWARE here and nowhere else at run time:
        # swap the list for this one call, made once when the process starts.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class PathDispatcher:
    def __init__(self, api: WSGIHandler, full: WSGIHandler):
        self.api = api
        self.full = full

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(API_PREFIX) else self.full
        return handler(environ, start_response)


def get_application() -> PathDispatcher:
    django.setup(set_prefix=False)
    return PathDispatcher(api=ApiWSGIHandler(), full=WSGIHandler())
