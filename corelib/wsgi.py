"""One Django app, two middleware chains: the full one for the admin, a lean one for /api/.

The API authenticates every request with a bearer token, never a cookie, so
sessions, CSRF, auth, messages and clickjacking middleware do nothing for it
but cost time on every request (about 17% of a cached board read, profiled with
bench/profile.py). Paths under API_PREFIX, and /metrics, go through API_MIDDLEWARE; everything
else (the admin, django-rq's pages) through MIDDLEWARE, unchanged.
"""

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.db import close_old_connections, reset_queries
from django.urls import get_resolver

from corelib import url_cache
from corelib.body_limit import BodyLimit

API_PREFIX = "/api/"
# Prometheus scrapes by address: the lean chain has no host check and no cookies to read.
LEAN_PREFIXES = (API_PREFIX, "/metrics")


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

    def resolve_request(self, request):
        # Every API path resolves through the default URLconf: no API middleware sets request.urlconf.
        if hasattr(request, "urlconf"):
            return super().resolve_request(request)
        request.resolver_match = url_cache.resolve(request.path_info)
        return request.resolver_match


class PathDispatcher:
    def __init__(self, api: WSGIHandler, full: WSGIHandler):
        self.api = api
        self.full = full

    def __call__(self, environ, start_response):
        handler = self.api if environ.get("PATH_INFO", "").startswith(LEAN_PREFIXES) else self.full
        return handler(environ, start_response)


def get_application() -> BodyLimit:
    django.setup(set_prefix=False)
    # Django imports the URLconf (and with it every API module) on the first request. Importing it
    # here makes the first requests after a start or reload not wait for it, and makes a broken
    # module fail loading the app: a Gunicorn worker then never reports ready, and
    # `gunicorn --check-config` (the USR2 check) fails.
    get_resolver().url_patterns  # noqa: B018 - evaluated for its side effect: the import
    if not settings.DEBUG:
        # Django empties each connection's query log as a request starts (5 µs of the json probe's 86,
        # measured in-process under gevent). The log only fills with DEBUG on, or in a test's
        # assertNumQueries, which empties it itself.
        request_started.disconnect(reset_queries)
    if all(database.get("CONN_MAX_AGE", 0) == 0 for database in settings.DATABASES.values()):
        # Django also closes expired connections as a request starts. With CONN_MAX_AGE=0 everywhere, the end
        # of the previous request closed them all: the check finds nothing, at 3-4 µs a request under gevent.
        request_started.disconnect(close_old_connections)
    # Outermost: an oversized body is refused before any handler reads it (corelib.body_limit).
    return BodyLimit(PathDispatcher(api=ApiWSGIHandler(), full=WSGIHandler()))
