"""Gunicorn's gevent worker, made fair between keep-alive connections, answering its own errors in the API's shape.

Gunicorn serves a keep-alive connection in one greenlet: answer, read the next
request, answer again. When the client sends its next request before the
greenlet reads (a busy client, or nginx's upstream keep-alive), the read
returns at once and the greenlet never yields, so a few connections are served
over and over while the others wait: a median under a millisecond and a p99 of
seconds (measured by bench/, see its results). Yielding once after each response puts the
greenlet behind every connection that is ready, round robin.

Each answer's head goes out with its body in one send
(corelib.gunicorn_response).

A request Gunicorn cannot parse (a request line or headers over its limits, a
malformed line) never reaches the app: Gunicorn answers it itself, as an HTML
page. The API promises one JSON error shape for every 4xx, so this worker
writes those answers as JSON (corelib.errors.error_body's shape).

Imported by the Gunicorn master to find the class: gevent and Gunicorn only,
never Django (the worker patches with gevent right after the fork).
"""

import json

import gevent
from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.ggevent import GeventWorker

from corelib.gunicorn_response import HeadWithBodyResponse

# Gunicorn's status -> the API's error code.
ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "request_line_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}
MESSAGES = {
    414: "The request line (method, path and query) is too long.",
    431: "The request headers are too large.",
    500: "Something went wrong on our side.",
}


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """util.write_error's signature; the same status, in the API's error shape (no client input echoed)."""
    code = ERROR_CODES.get(status_int, "bad_request")
    message = MESSAGES.get(status_int, f"The request is malformed ({reason}).")
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


class FairGeventWorker(GeventWorker):
    def init_process(self):
        # Gunicorn's handle_error writes through util.write_error; in this worker process, in JSON.
        util.write_error = write_json_error
        # Gunicorn's wsgi.create() builds every HTTP/1 response from this name.
        wsgi.Response = HeadWithBodyResponse
        super().init_process()

    def handle_request(self, listener_name, req, sock, addr):
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.sleep(0)
