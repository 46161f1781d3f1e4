"""Request bodies over the size limit are refused with a JSON 413 before they are read.

Django itself raises RequestDataTooBig only when a view touches request.body,
and the API's catch-all handler then answered 500. Worse, a chunked body
(no Content-Length) reaches Django as an empty one. This wrapper sits in front
of the whole WSGI application, every route alike:

- a Content-Length over settings.DATA_UPLOAD_MAX_MEMORY_SIZE: 413, nothing read;
- a Content-Length that is not a non-negative integer: 400;
- a chunked body: read up to the limit plus one byte; over it, 413; under it,
  handed on with its Content-Length set, as if the client had sent one.

Behind nginx its `client_max_body_size` answers first (deploy/nginx.conf.template).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import orjson
from django.conf import settings

from corelib.errors import error_body
from corelib.security_headers import API_CONTENT_SECURITY_POLICY

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _answer(start_response: Callable, status: str, code: str, message: str, field: str | None) -> list[bytes]:
    body = orjson.dumps(error_body(code, message, field))
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", API_CONTENT_SECURITY_POLICY),
    ]
    start_response(status, headers)
    return [body]


def _is_chunked(environ: dict) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


class BodyLimit:
    """WSGI middleware: bodies above the limit never reach the application."""

    def __init__(self, app: WSGIApp):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = environ.get("CONTENT_LENGTH", "").strip()
        if declared:
            if not declared.isdigit():
                return _answer(
                    start_response, "400 Bad Request", "bad_content_length", "Content-Length is not a number.", None
                )
            if limit is not None and int(declared) > limit:
                return self._too_large(start_response, limit)
        elif _is_chunked(environ) and limit is not None:
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return self._too_large(start_response, limit)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)

    @staticmethod
    def _too_large(start_response: Callable, limit: int) -> list[bytes]:
        message = f"The request body is larger than {limit} bytes."
        return _answer(start_response, "413 Request Entity Too Large", "body_too_large", message, "body")
