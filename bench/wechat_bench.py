"""The WeChat stand-in (devtools.wechat_standin) as the login case runs it.

Unchanged, except that any code starting with `bench-` is valid once: the
load generator cannot mint codes over HTTP at thousands a second. Each code maps
to one of the seeded users' openids (returning users) or, for one in ten, a
new one (first logins), as real traffic mixes them.

    python -m bench.wechat_bench --port PORT --appid APPID --users N
"""

import argparse
import zlib

from devtools import wechat_standin


class BenchCodes(dict):
    def __init__(self, appid: str, users: int) -> None:
        super().__init__()
        self.appid = appid
        self.users = users

    def get(self, code, default=None):
        if code.startswith("bench-") and code not in wechat_standin.STATE.used:
            n = zlib.crc32(code.encode())
            openid = f"o-bench-{n % self.users:08d}" if n % 10 else f"o-new-{code}"
            return {"appid": self.appid, "openid": openid, "unionid": "", "session_key": f"sk-{n:x}"}
        return super().get(code, default)

    def __delitem__(self, code) -> None:
        self.pop(code, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--users", type=int, required=True)
    args = parser.parse_args()
    wechat_standin.STATE.codes = BenchCodes(args.appid, args.users)
    wechat_standin.STATE.calls = _NoList()
    wechat_standin.ThreadingHTTPServer.request_queue_size = 1024  # the listen backlog; stdlib's default is 5
    server = wechat_standin.make_server(args.port)
    server.serve_forever()


class _NoList(list):
    """The stand-in records every call for tests; the bench would only grow memory with it."""

    def append(self, item) -> None:
        pass


if __name__ == "__main__":
    main()
