"""The mini-program API: one NinjaAPI instance, mounted at /api/v1/.

Responses are encoded by orjson; errors share corelib.errors' shape. The
OpenAPI document is always served (/api/v1/openapi.json); the interactive docs
page only when DEBUG is on.
"""

from django.conf import settings
from django.urls import URLPattern
from ninja import NinjaAPI

from apps.accounts.api import router as accounts_router
from apps.boards.api import router as boards_router
from corelib import errors
from corelib.render import ObjectParser, ORJSONRenderer

api = NinjaAPI(
    title="Mini-program API",
    version="1",
    description="WeChat login for several mini-programs, message boards, replies and likes.",
    renderer=ORJSONRenderer(),
    parser=ObjectParser(),
    openapi_url="/openapi.json",
    docs_url="/docs" if settings.DEBUG else None,
    urls_namespace="api-v1",
)
errors.install(api)
api.add_router("/", accounts_router)
api.add_router("/", boards_router)


def urls():
    """api.urls, with every path's 405 answered in the JSON error shape."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = errors.json_not_allowed(pattern.callback)
    return patterns, app_name, namespace
