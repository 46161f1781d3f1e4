"""One JSON error shape for the whole API: {"error": {"code", "message", "field"}}.

Views and services raise `ApiError` (or let ninja raise its own validation and
HTTP errors); the handlers installed by `install()` turn every one of them into
that shape with the right status, naming the offending field when there is one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from django import db
from django.http import Http404, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from ninja import NinjaAPI
    from ninja.errors import HttpError, ValidationError

# No django-ninja at import: the exceptions and json_error() are used by the database pool and
# the services, which RQ workers load too, and ninja with pydantic is 8 MB more in each of them.
# The handlers import it when install() runs, in the web; the schemas are corelib.error_schemas.

logger = logging.getLogger(__name__)

# Where ninja says a value came from; the field is what follows it.
_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


class ApiError(Exception):
    """An error the client can act on: a status, a stable code, a message, maybe a field."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status
        self.field = field
        self.headers = headers or {}


class NotFoundError(ApiError):
    status = 404
    code = "not_found"


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"


class UnauthorizedError(ApiError):
    status = 401
    code = "unauthorized"


class TooManyRequestsError(ApiError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailableError(ApiError):
    status = 503
    code = "service_unavailable"


def error_body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def json_error(status: int, code: str, message: str, field: str | None = None, headers=None) -> HttpResponse:
    """A plain Django response in the error shape, for paths ninja does not route."""
    response = HttpResponse(
        orjson.dumps(error_body(code, message, field)), status=status, content_type="application/json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_from_loc(loc: tuple | list) -> str | None:
    """("body", "payload", "content") -> "content"; ("query", "limit") -> "limit"."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    # A body schema is nested under the view's parameter name: drop it when
    # a field follows, keep it when the whole body is what is missing.
    if len(parts) > 1 and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts) or None


def _validation_message(error: dict, field: str | None) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return f"{field or 'A value'} is required."
    message = str(error.get("msg", "is invalid"))
    return f"{field}: {message}" if field else message


def _handle_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return json_error(exc.status, exc.code, exc.message, exc.field, exc.headers)


def _handle_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = field_from_loc(first.get("loc", ()))
    return json_error(422, "invalid", _validation_message(first, field), field)


def _handle_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    from ninja.errors import AuthenticationError

    if isinstance(exc, AuthenticationError):
        return json_error(401, "unauthorized", "An API token is required: Authorization: Bearer <token>.", "token")
    if exc.status_code == 400 and "request body" in str(exc):
        return json_error(400, "malformed_body", "The request body must be a JSON object.", "body")
    return json_error(exc.status_code, "http_error", str(exc))


def _handle_404(request: HttpRequest, exc: Exception) -> HttpResponse:
    return json_error(404, "not_found", "Not found.")


def _handle_database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    # MySQL restarting or out of reach: the client may retry; we still want to hear of it.
    logger.error("database unavailable on %s %s: %s", request.method, request.path, exc)
    message = "The database does not answer right now. Retry shortly."
    return json_error(503, "database_unavailable", message, headers={"Retry-After": "1"})


def _handle_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The one place a 500 is produced: log it (Sentry picks it up) and answer in our shape.
    logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return json_error(500, "internal_error", "Something went wrong on our side.")


def install(api: NinjaAPI) -> None:
    """Register the handlers on a NinjaAPI instance."""
    from ninja.errors import HttpError, ValidationError

    api.add_exception_handler(ApiError, _handle_api_error)
    api.add_exception_handler(ValidationError, _handle_validation)
    api.add_exception_handler(HttpError, _handle_http_error)
    api.add_exception_handler(Http404, _handle_404)
    api.add_exception_handler(db.OperationalError, _handle_database_unavailable)
    api.add_exception_handler(db.InterfaceError, _handle_database_unavailable)
    api.add_exception_handler(Exception, _handle_unexpected)


def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all for unknown paths under /api/: a JSON 404 rather than Django's HTML page."""
    return json_error(404, "not_found", f"No API route for {request.path}.", "path")


def json_not_allowed(view):
    """Wrap a ninja path view so that its 405 answers in the error shape too."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            allowed = response.get("Allow", "")
            replacement = json_error(405, "method_not_allowed", f"{request.method} is not allowed here.", "method")
            replacement["Allow"] = allowed
            return replacement
        return response

    wrapped.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapped
