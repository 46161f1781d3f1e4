"""Content-Security-Policy and framing headers for the two middleware chains (corelib.wsgi).

An API answer is JSON for a mini-program, never a page: nothing may frame it,
and were a browser to render one, it may load nothing. The admin is a page:
its policy (settings.ADMIN_CONTENT_SECURITY_POLICY) allows its own scripts and
styles and nothing from elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"


class ApiSecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
        return response


class AdminContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.policy = settings.ADMIN_CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
