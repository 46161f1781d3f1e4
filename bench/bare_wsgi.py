"""The ceiling: a bare WSGI callable returning the `json` case's document, no Django.

Served by the same Gunicorn+gevent config and worker count as the service.
"""

import orjson

from apps.probes.document import json_document

HEADERS_BASE = [("Content-Type", "application/json")]


def application(environ, start_response):
    body = orjson.dumps(json_document())
    start_response("200 OK", [*HEADERS_BASE, ("Content-Length", str(len(body)))])
    return [body]
