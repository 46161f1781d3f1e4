"""Every answer an API test gets from a documented operation must match the OpenAPI document.

The status must be one the operation documents, and a JSON body must validate
against the schema documented for that status. Views that skip ninja's
response models for speed (corelib.render.json_response) are held to the
document this way, by the whole API suite rather than by a few tests.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jsonschema_rs
import orjson


@lru_cache(maxsize=1)
def _document() -> dict:
    from project.api import api

    return api.get_openapi_schema()


@lru_cache(maxsize=1)
def _operations() -> list[tuple[str, re.Pattern, dict]]:
    operations = []
    for template, item in _document()["paths"].items():
        pattern = re.compile(
            "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        )
        operations += [(method.upper(), pattern, operation) for method, operation in item.items()]
    return operations


@lru_cache(maxsize=64)
def _validator(reference: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator({"$ref": reference, "components": _document()["components"]})


def check(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Raise AssertionError when the answer does not match what the operation documents."""
    path = path.split("?", 1)[0]
    matches = [op for verb, pattern, op in _operations() if verb == method.upper() and pattern.match(path)]
    if not matches:
        return  # not a documented operation: an unknown path, a wrong method, the health probes
    # Keys are ints in the document object, strings once served as JSON.
    responses = {str(code): response for code, response in matches[0]["responses"].items()}
    assert str(status) in responses, (
        f"{method} {path} answered {status}, which it does not document ({', '.join(sorted(responses))})"
    )
    schema = responses[str(status)].get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        assert not body, f"{method} {path} documents no body for {status} but sent {body[:200]!r}"
        return
    assert content_type.startswith("application/json"), f"{method} {path} {status}: {content_type}"
    errors = [error.message for error in _validator(schema["$ref"]).iter_errors(orjson.loads(body))]
    assert not errors, f"{method} {path} {status}: the body does not match {schema['$ref']}: {errors[:3]}"
