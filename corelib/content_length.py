"""Content-Length on every complete API response.

Django's CommonMiddleware sets it, but the lean /api/ chain (corelib.wsgi)
leaves CommonMiddleware out. Without the header Gunicorn sends the body
chunked: three writes per response instead of two, and clients such as ab and
wrk wait for the closing chunk.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class ContentLengthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.streaming and "Content-Length" not in response:
            response.headers["Content-Length"] = str(len(response.content))
        return response
