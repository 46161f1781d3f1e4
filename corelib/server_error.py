"""Django's handler500: an uncaught exception under /api/ answers in the API's JSON error shape.

Ninja's handlers (corelib.errors) cover /api/v1/; this covers every other API
path (health, probes) and anything that escapes a middleware. A database or
Redis that does not answer is a 503 the client may retry; anything else a 500.
The admin keeps Django's own page.
"""

import sys

from django.db import Error as DatabaseError  # InterfaceError (a closed connection) is not a DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views import defaults
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from corelib.errors import json_error
from corelib.wsgi import API_PREFIX


def server_error(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith(API_PREFIX):
        return defaults.server_error(request)
    error = sys.exc_info()[1]  # Django calls this while handling the exception
    if isinstance(error, DatabaseError):
        message = "The database does not answer right now. Retry shortly."
        return json_error(503, "database_unavailable", message, headers={"Retry-After": "1"})
    if isinstance(error, (RedisError, ConnectionInterrupted, ConnectionError, TimeoutError)):
        message = "Redis does not answer right now. Retry shortly."
        return json_error(503, "redis_unavailable", message, headers={"Retry-After": "1"})
    return json_error(500, "internal_error", "Something went wrong on our side.")
