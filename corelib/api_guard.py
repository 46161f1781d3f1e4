"""Requests Django would refuse with an HTML page or a 500, refused in the API's JSON error shape.

The lean /api/ chain (corelib.wsgi) has no CommonMiddleware, so nothing asked
for the Host header and a request for any host reached the views; and a query
string with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS raised inside a view,
where the catch-all handler answered 500. Both are checked here, before any
view runs; the query string's fields are counted, not parsed, as parsing on
every request costs more than the count. A suspicious request found later (a
view touching an oversized or over-full body) is answered by
`suspicious_request_response`, which the API's exception handlers share.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from corelib.errors import json_error


def _too_many_fields(query_string: str) -> bool:
    """What QueryDict would refuse, counted without parsing (most views never read request.GET).

    The same count as the standard library's parse_qsl makes for Django: one field
    per '&'-separated part.
    """
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return limit is not None and bool(query_string) and 1 + query_string.count("&") > limit


def suspicious_request_response(exc: SuspiciousOperation) -> HttpResponse:
    """The 4xx for one of Django's refusals of a request's shape."""
    if isinstance(exc, DisallowedHost):
        return json_error(400, "bad_host", "This host name is not served here.", "host")
    if isinstance(exc, RequestDataTooBig):
        return json_error(413, "body_too_large", "The request body is too large.", "body")
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return json_error(400, "too_many_fields", "The request has too many parameters or files.", None)
    return json_error(400, "bad_request", "The request is malformed.", None)


def handle_suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    """The same answer from inside a ninja view (registered on the NinjaAPI in project.api)."""
    return suspicious_request_response(exc)


class ApiRequestGuardMiddleware:
    """Validates Host and the query string of every /api/ request up front."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            request.get_host()
        except SuspiciousOperation as exc:
            return suspicious_request_response(exc)
        if _too_many_fields(request.META.get("QUERY_STRING", "")):
            return suspicious_request_response(TooManyFieldsSent())
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, SuspiciousOperation):
            return suspicious_request_response(exception)
        return None
