"""A local stand-in for WeChat's server API, for tests and offline `make run`.

    python -m devtools.wechat_standin --port 8765

Speaks the four endpoints corelib.wechat uses, with WeChat's shapes and
errcodes: GET /sns/jscode2session, GET /cgi-bin/token, POST /cgi-bin/stable_token,
POST /wxa/msg_sec_check (v2), POST /cgi-bin/message/subscribe/send.

Controlled over HTTP (JSON or form bodies):
    POST /__standin__/codes    {appid, openid?, unionid?} -> {code, openid, unionid, session_key}
    POST /__standin__/apps     {appid, secret}     only then are secrets checked for that appid
    POST /__standin__/flagged  {words: [...]}      msg_sec_check answers risky when content has one
    POST /__standin__/faults   {path?, errcode?, http_status?, delay?, count?}
                               the next `count` calls (to `path`, or any) answer that errcode/status
                               or wait `delay` seconds first
    POST /__standin__/refusals {openid}            subscribe/send answers 43101 for that user
    POST /__standin__/expire_tokens                every issued access token answers 42001 from now
    GET  /__standin__/calls    the calls received (secrets and tokens included: it is a test double)
    POST /__standin__/reset    forget everything

A minted code is valid once, for the appid it was minted for, like a real one.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ADMIN = "/__standin__/"


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.codes: dict[str, dict] = {}  # code -> {appid, openid, unionid, session_key}
        self.used: set[str] = set()
        self.secrets: dict[str, str] = {}
        self.flagged: list[str] = []
        self.faults: list[dict] = []
        self.refusals: set[str] = set()
        self.tokens: dict[str, dict] = {}  # access_token -> {appid, expired}
        self.stable: dict[str, str] = {}  # appid -> current stable token
        self.calls: list[dict] = []

    def take_fault(self, path: str) -> dict | None:
        for fault in self.faults:
            if fault.get("path") in (None, "", "*", path) and fault["count"] > 0:
                fault["count"] -= 1
                return fault
        return None


STATE = State()


class Handler(BaseHTTPRequestHandler):
    server_version = "wechat-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass  # quiet: tests read /__standin__/calls instead

    # --- plumbing -------------------------------------------------------------
    def _send(self, status: int, body: dict | list) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
            return parsed if isinstance(parsed, dict) else {}
        except ValueError:
            form = parse_qs(raw.decode(errors="replace"))
            return {key: values[-1] if len(values) == 1 else values for key, values in form.items()}

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        body = self._body()
        if url.path.startswith(ADMIN):
            return self._admin(method, url.path[len(ADMIN) :].strip("/"), body)
        with STATE.lock:
            STATE.calls.append({"method": method, "path": url.path, "query": query, "body": body, "at": time.time()})
            fault = STATE.take_fault(url.path)
        if fault:
            if fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault.get("http_status"):
                return self._send(int(fault["http_status"]), {"errcode": -1, "errmsg": "system error"})
            if fault.get("errcode") is not None:
                return self._send(200, {"errcode": int(fault["errcode"]), "errmsg": fault.get("errmsg", "forced")})
        route = ROUTES.get((method, url.path))
        if route is None:
            return self._send(404, {"errcode": 404, "errmsg": "no such api in the stand-in"})
        return self._send(200, route(query, body))

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    # --- admin ----------------------------------------------------------------
    def _admin(self, method: str, name: str, body: dict) -> None:
        with STATE.lock:
            if name == "codes" and method == "POST":
                appid = str(body.get("appid", ""))
                if not appid:
                    return self._send(400, {"error": "appid is required"})
                code = "standin-" + secrets.token_hex(8)
                openid = str(body.get("openid") or "o" + secrets.token_hex(13))
                entry = {
                    "appid": appid,
                    "openid": openid,
                    "unionid": str(body.get("unionid", "")),
                    "session_key": secrets.token_urlsafe(18),
                }
                STATE.codes[code] = entry
                return self._send(201, {"code": code, **entry})
            if name == "apps" and method == "POST":
                STATE.secrets[str(body["appid"])] = str(body["secret"])
                return self._send(200, {"ok": True})
            if name == "flagged" and method == "POST":
                words = body.get("words", [])
                STATE.flagged = [words] if isinstance(words, str) else list(words)
                return self._send(200, {"words": STATE.flagged})
            if name == "faults" and method == "POST":
                fault = {
                    "path": body.get("path"),
                    "errcode": body.get("errcode"),
                    "errmsg": body.get("errmsg", "forced by the stand-in"),
                    "http_status": body.get("http_status"),
                    "delay": float(body.get("delay") or 0),
                    "count": int(body.get("count") or 1),
                }
                STATE.faults.append(fault)
                return self._send(200, fault)
            if name == "refusals" and method == "POST":
                STATE.refusals.add(str(body["openid"]))
                return self._send(200, {"ok": True})
            if name == "expire_tokens" and method == "POST":
                for token in STATE.tokens.values():
                    token["expired"] = True
                STATE.stable.clear()
                return self._send(200, {"ok": True})
            if name == "calls" and method == "GET":
                return self._send(200, STATE.calls)
            if name == "reset" and method == "POST":
                STATE.reset()
                return self._send(200, {"ok": True})
        return self._send(404, {"error": f"unknown admin call {method} {name}"})


def _err(errcode: int, errmsg: str) -> dict:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {secrets.token_hex(4)}"}


def _check_app(appid: str, secret: str) -> dict | None:
    if not appid:
        return _err(41002, "appid missing")
    if not secret:
        return _err(41004, "appsecret missing")
    expected = STATE.secrets.get(appid)
    if expected is not None and expected != secret:
        return _err(40125, "invalid appsecret")
    return None


def jscode2session(query: dict, body: dict) -> dict:
    appid, code = query.get("appid", ""), query.get("js_code", "")
    with STATE.lock:
        problem = _check_app(appid, query.get("secret", ""))
        if problem:
            return problem
        if code in STATE.used:
            return _err(40163, "code been used")
        entry = STATE.codes.get(code)
        if entry is None or entry["appid"] != appid:
            return _err(40029, "invalid code")
        STATE.used.add(code)
        del STATE.codes[code]
    answer = {"openid": entry["openid"], "session_key": entry["session_key"]}
    if entry["unionid"]:
        answer["unionid"] = entry["unionid"]
    return answer


def _issue_token(appid: str) -> str:
    token = "ACCESS_TOKEN_" + secrets.token_hex(16)
    STATE.tokens[token] = {"appid": appid, "expired": False}
    return token


def token(query: dict, body: dict) -> dict:
    appid = query.get("appid", "")
    with STATE.lock:
        if query.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        problem = _check_app(appid, query.get("secret", ""))
        return problem or {"access_token": _issue_token(appid), "expires_in": 7200}


def stable_token(query: dict, body: dict) -> dict:
    appid = str(body.get("appid", ""))
    with STATE.lock:
        if body.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        problem = _check_app(appid, str(body.get("secret", "")))
        if problem:
            return problem
        current = STATE.stable.get(appid)
        if current is None or body.get("force_refresh") or STATE.tokens[current]["expired"]:
            current = STATE.stable[appid] = _issue_token(appid)
        return {"access_token": current, "expires_in": 7200}


def _token_problem(access_token: str) -> dict | None:
    entry = STATE.tokens.get(access_token)
    if entry is None:
        return _err(40001, "invalid credential, access_token is invalid or not latest")
    if entry["expired"]:
        return _err(42001, "access_token expired")
    return None


def msg_sec_check(query: dict, body: dict) -> dict:
    with STATE.lock:
        problem = _token_problem(query.get("access_token", ""))
        if problem:
            return problem
        words = list(STATE.flagged)
    if body.get("version") != 2 or not body.get("openid") or "content" not in body:
        return _err(47001, "data format error")
    content = str(body["content"])
    hit = next((word for word in words if word and word in content), None)
    trace_id = secrets.token_hex(12)
    if hit is None:
        return {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"suggest": "pass", "label": 100},
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": "pass", "label": 100, "prob": 0}],
            "trace_id": trace_id,
        }
    return {
        "errcode": 0,
        "errmsg": "ok",
        "result": {"suggest": "risky", "label": 20006},
        "detail": [
            {"strategy": "keyword", "errcode": 0, "suggest": "risky", "label": 20006, "level": 20, "keyword": hit},
            {"strategy": "content_model", "errcode": 0, "suggest": "risky", "label": 20006, "prob": 90},
        ],
        "trace_id": trace_id,
    }


def subscribe_send(query: dict, body: dict) -> dict:
    with STATE.lock:
        problem = _token_problem(query.get("access_token", ""))
        if problem:
            return problem
        refused = str(body.get("touser", "")) in STATE.refusals
    if not body.get("touser"):
        return _err(40003, "invalid openid")
    if not body.get("template_id"):
        return _err(40037, "invalid template_id")
    data = body.get("data")
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "value" in v for v in data.values()):
        return _err(47003, "argument invalid! data.value is empty")
    if refused:
        return _err(43101, "user refuse to accept the msg")
    return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(10**12)}


ROUTES = {
    ("GET", "/sns/jscode2session"): jscode2session,
    ("GET", "/cgi-bin/token"): token,
    ("POST", "/cgi-bin/stable_token"): stable_token,
    ("POST", "/wxa/msg_sec_check"): msg_sec_check,
    ("POST", "/cgi-bin/message/subscribe/send"): subscribe_send,
}


def make_server(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for WeChat's server API.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = make_server(args.port, args.host)
    print(f"wechat stand-in on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
