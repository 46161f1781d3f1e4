"""A Django test client that sends every request through production's WSGI entry point.

Django's own test client runs settings.MIDDLEWARE on every path, but production
serves /api/ through a leaner chain behind a body-size guard (corelib.wsgi,
corelib.body_limit). `ProductionClient` keeps the test client's request
building and response helpers (`.json()`, `response["Header"]`) and hands the
WSGI environ to `project.wsgi.application` itself, as Gunicorn does.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponse
from django.test import Client


class ProductionHandler:
    """Calls the production WSGI application and rebuilds an HttpResponse from what it sent."""

    def __init__(self) -> None:
        from project.wsgi import application

        self.application = application

    def __call__(self, environ: dict) -> HttpResponse:
        seen: dict = {}

        def start_response(status: str, headers: list, exc_info=None) -> None:
            seen["status"], seen["headers"] = status, headers

        # As Django's own test handler does: a request must not close the test's
        # database connection, which holds the test's transaction.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = self.application(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)
        code, _, reason = seen["status"].partition(" ")
        response = HttpResponse(body, status=int(code), reason=reason)
        del response["Content-Type"]
        for name, value in seen["headers"]:
            if name.lower() == "set-cookie":
                response.cookies.update(SimpleCookie(value))
            else:
                response.headers[name] = value
        # The test client resolves the path from the request it was answered for.
        response.wsgi_request = WSGIRequest(dict(environ))
        return response


class ProductionClient(Client):
    def __init__(self, **defaults) -> None:
        super().__init__(**defaults)
        self.handler = ProductionHandler()
