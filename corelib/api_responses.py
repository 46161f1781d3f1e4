"""The error statuses each API operation documents in the OpenAPI document.

Some answers can come from any operation, whatever it does: a malformed
request (bad Host, too many parameters, a body that is not JSON: 400), a body
over the limit (413), a request line or headers over the server's limits (414,
431: corelib.gunicorn_worker answers those in the same shape), a database that does not answer or has no free
connection (503), and the catch-all for our own bugs (500). Each operation adds
what it can answer itself (401, 404, 422, 429...).
"""

from __future__ import annotations

from corelib.error_schemas import ErrorOut

ANY_OPERATION = (400, 413, 414, 431, 500, 503)


def error_responses(*statuses: int) -> dict[int, type[ErrorOut]]:
    return {status: ErrorOut for status in sorted({*ANY_OPERATION, *statuses})}
