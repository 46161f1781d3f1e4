"""Gunicorn's HTTP/1 response, sending the status line and headers with the first body bytes.

Gunicorn writes a response's head and its body in two sendall() calls. On a
keep-alive connection each send is a system call that, over loopback or to a
proxy on the same host, also runs the receiver's side of TCP and wakes it: two
wake-ups of nginx (or the load generator) per answer where one would do, and an
API answer is almost always one small body. This response keeps the head until
the first body bytes and sends both in one call; a response with no body bytes
(HEAD, 204, 304, an empty body) sends its head at close, as Gunicorn does.

Everything else is Gunicorn's: the head is built by its own default_headers()
and header list, and the length and chunk bookkeeping stays in its write().
Installed by corelib.gunicorn_worker in each worker process.
"""

from gunicorn import util
from gunicorn.http import wsgi


class HeadWithBodyResponse(wsgi.Response):
    def __init__(self, req, sock, cfg):
        super().__init__(req, sock, cfg)
        self._head = None

    def send_headers(self):
        # Called by write() just before _emit_body(), by close() and by sendfile(): only keep the head here.
        if self.headers_sent:
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._head = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _send_head(self):
        self.send_headers()
        head, self._head = self._head, None
        if head is not None:
            util.write(self.sock, head)

    def _emit_body(self, data):
        if self._head is not None and not self.chunked:
            head, self._head = self._head, None
            util.write(self.sock, head + data)
            return
        self._send_head()  # a chunked body frames each piece itself: the head goes first, on its own
        super()._emit_body(data)

    def sendfile(self, respiter):
        # The file goes out by the kernel's sendfile after the head: the head must be on the wire first.
        self._send_head()
        return super().sendfile(respiter)

    def close(self):
        self._send_head()
        super().close()
