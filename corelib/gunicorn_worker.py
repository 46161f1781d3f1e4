"""Gunicorn's gevent worker, made fair between keep-alive connections.

Gunicorn serves a keep-alive connection in one greenlet: answer, read the next
request, answer again. When the client sends its next request before the
greenlet reads (a busy client, or nginx's upstream keep-alive), the read
returns at once and the greenlet never yields, so a few connections are served
over and over while the others wait: a median under a millisecond and a p99 of
seconds (measured by bench/, see its results). Yielding once after each response puts the
greenlet behind every connection that is ready, round robin.

Imported by the Gunicorn master to find the class: gevent and Gunicorn only,
never Django (the worker patches with gevent right after the fork).
"""

import gevent
from gunicorn.workers.ggevent import GeventWorker


class FairGeventWorker(GeventWorker):
    def handle_request(self, listener_name, req, sock, addr):
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.sleep(0)
