"""Fast JSON out: an orjson renderer for ninja and a response helper for hot paths.

orjson is about 3x faster than the stdlib encoder on a page of messages, and
encodes datetimes itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja.parser import Parser
from ninja.renderers import BaseRenderer


def _default(value: Any) -> Any:
    # pydantic URLs, Decimals, lazy strings: whatever has a string form.
    return str(value)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return orjson.dumps(data, default=_default)


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """Skip ninja's response-model pass: for endpoints whose data is already plain."""
    return HttpResponse(orjson.dumps(data, default=_default), status=status, content_type="application/json")


class ObjectParser(Parser):
    """JSON bodies must be objects: a bare string, number or list is a malformed body (400)."""

    def parse_body(self, request: HttpRequest) -> dict:
        data = orjson.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data
