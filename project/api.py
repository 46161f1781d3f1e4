"""The mini-program API: one NinjaAPI instance, mounted at /api/v1/.

Responses are encoded by orjson; errors share corelib.errors' shape. The
OpenAPI document is always served (/api/v1/openapi.json); the interactive docs
page only when DEBUG is on.
"""

import json
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern
from ninja import NinjaAPI, Swagger

from apps.accounts.api import router as accounts_router
from apps.accounts.auth import idempotency_scope
from apps.boards.api import router as boards_router
from corelib import errors, idempotency
from corelib.api_guard import handle_suspicious
from corelib.render import ObjectParser, ORJSONRenderer


class MiniProgramApi(NinjaAPI):
    """NinjaAPI whose OpenAPI document describes the Idempotency-Key header of every write."""

    def get_openapi_schema(self, *args, **kwargs):
        return idempotency.document(super().get_openapi_schema(*args, **kwargs))


class OfflineSwagger(Swagger):
    """Swagger UI from django-ninja's own template and files (settings.NINJA_FILES), never from a CDN.

    Ninja renders its local page only when "ninja" is an installed app, which would load it into every
    process; the API authenticates with bearer tokens, so the page needs no CSRF token.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api, "add_csrf": False}
        return render(request, self.template, context)


api = MiniProgramApi(
    title="Mini-program API",
    version="1",
    description="WeChat login for several mini-programs, message boards, replies and likes.",
    renderer=ORJSONRenderer(),
    parser=ObjectParser(),
    openapi_url="/openapi.json",
    docs=OfflineSwagger(),
    docs_url="/docs" if settings.DEBUG else None,
    urls_namespace="api-v1",
)
errors.install(api)
api.add_exception_handler(SuspiciousOperation, handle_suspicious)
api.add_router("/", accounts_router)
api.add_router("/", boards_router)


def write_methods() -> dict[str, dict[str, bool]]:
    """Per route of the document ("/boards/{board_id}"): its write methods, and whether each needs a token."""
    document = api.get_openapi_schema(path_prefix="")
    return {
        path: {
            method.upper(): bool(operation.get("security"))
            for method, operation in operations.items()
            if method.upper() in idempotency.WRITE_METHODS
        }
        for path, operations in document["paths"].items()
    }


def document_route(pattern: URLPattern) -> str:
    """The document's name for a URL pattern's route: "boards/<int:board_id>" -> "/boards/{board_id}"."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def urls():
    """api.urls, with every path's 405 answered in the JSON error shape and Idempotency-Key honoured."""
    patterns, app_name, namespace = api.urls
    writes = write_methods()
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            view = errors.json_not_allowed(pattern.callback)
            pattern.callback = idempotency.idempotent(view, idempotency_scope, writes.get(document_route(pattern), {}))
    return patterns, app_name, namespace
