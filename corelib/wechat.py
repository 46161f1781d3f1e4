"""The WeChat server API client: the four calls this service makes.

Real request and answer shapes (developers.weixin.qq.com, mini-program server
API). Every call has a (connect, read) timeout and uses settings.WECHAT_API_BASE,
so tests and `make run` point it at devtools.wechat_standin. WeChat answers most
errors with HTTP 200 and a JSON {"errcode", "errmsg"}; those become typed
exceptions below. Nothing here logs a response body: jscode2session's answer
holds the session_key, which must never reach a log line.
"""

from __future__ import annotations

import json as jsonlib
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests.utils
import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError
from urllib3.exceptions import TimeoutError as HTTPTimeoutError


class WeChatError(Exception):
    """WeChat answered with a non-zero errcode we have no better class for."""

    def __init__(self, errcode: int, errmsg: str = ""):
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class InvalidCodeError(WeChatError):
    """The login code is invalid, already used, or from a blocked user (40029, 40163, 40226)."""


class WeChatRateLimitError(WeChatError):
    """WeChat's per-minute quota for this appid is spent (45011)."""


class AccessTokenError(WeChatError):
    """The access token is expired or invalid (40001, 42001, 40014): fetch a new one."""


class CredentialsError(WeChatError):
    """The appid or secret is wrong (40013, 40125, 41002, 41004)."""


class SubscriptionRefusedError(WeChatError):
    """The user has not accepted (or has withdrawn) this subscribe message (43101)."""


class RiskyContentError(WeChatError):
    """msg_sec_check judged the content risky (v2 suggest=risky, or v1 errcode 87014)."""


class WeChatUnavailableError(WeChatError):
    """WeChat could not be reached, timed out, or is busy (-1, 5xx, unreadable answer)."""

    def __init__(self, reason: str, errcode: int = -1):
        super().__init__(errcode, reason)


_ERRCODES: dict[int, type[WeChatError]] = {
    40029: InvalidCodeError,
    40163: InvalidCodeError,
    40226: InvalidCodeError,
    45011: WeChatRateLimitError,
    40001: AccessTokenError,
    42001: AccessTokenError,
    40014: AccessTokenError,
    40013: CredentialsError,
    40125: CredentialsError,
    41002: CredentialsError,
    41004: CredentialsError,
    43101: SubscriptionRefusedError,
    87014: RiskyContentError,
}


@dataclass(frozen=True)
class Session:
    openid: str
    session_key: str = field(repr=False)  # never printed, even in a traceback's locals
    unionid: str = ""


@dataclass(frozen=True)
class Verdict:
    """msg_sec_check v2's answer: suggest is "pass", "review" or "risky"."""

    suggest: str
    label: int
    trace_id: str = ""

    @property
    def is_risky(self) -> bool:
        return self.suggest == "risky"

    def raise_if_risky(self) -> None:
        if self.is_risky:
            raise RiskyContentError(87014, f"risky content (label {self.label})")


# Keep-alive connections kept per WeChat host. requests keeps 10 by default: a gevent worker holds hundreds of
# calls at once, and every call beyond the 10th would open (and pay a TLS handshake for) a connection of its own,
# then throw it away with a "connection pool is full" warning.
KEPT_CONNECTIONS = 200

# urllib3 itself, not requests: a requests Session reads the proxy variables (scanning the whole environment)
# and looks for a .netrc on every call, about half the client-side CPU of a call (bench/login_cpu.py). The
# proxy and the CA bundle requests would have taken from the environment are read once per WeChat base URL.
_managers: dict[str, urllib3.PoolManager] = {}


def _manager(base: str) -> urllib3.PoolManager:
    manager = _managers.get(base)
    if manager is None:
        ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or requests.utils.DEFAULT_CA_BUNDLE_PATH
        )
        context = urllib3.util.create_urllib3_context()
        context.load_verify_locations(ca_bundle)  # once, not on every new connection
        # retries=False: one attempt, as requests makes (a login code is good for one call only).
        options: dict[str, Any] = {"maxsize": KEPT_CONNECTIONS, "retries": False, "ssl_context": context}
        proxy = requests.utils.select_proxy(base, requests.utils.get_environ_proxies(base))
        manager = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        _managers[base] = manager
    return manager


def _timeouts() -> urllib3.Timeout:
    return urllib3.Timeout(connect=settings.WECHAT_CONNECT_TIMEOUT, read=settings.WECHAT_READ_TIMEOUT)


def _call(method: str, path: str, *, params: dict | None = None, json: Any = None) -> dict:
    base = settings.WECHAT_API_BASE.rstrip("/")
    url = base + path + ("?" + urlencode(params) if params else "")
    headers, payload = {}, None
    if json is not None:
        headers["Content-Type"] = "application/json"
        payload = jsonlib.dumps(json, allow_nan=False).encode()  # the bytes requests sent: non-ASCII escaped
    try:
        response = _manager(base).request(method, url, body=payload, headers=headers, timeout=_timeouts())
    except HTTPTimeoutError:
        raise WeChatUnavailableError(f"WeChat timed out on {path}") from None
    except (HTTPError, OSError) as error:
        raise WeChatUnavailableError(f"WeChat unreachable on {path}: {type(error).__name__}") from None
    if response.status >= 500:
        raise WeChatUnavailableError(f"WeChat answered HTTP {response.status} on {path}")
    try:
        body = jsonlib.loads(response.data)
    except ValueError:
        raise WeChatUnavailableError(f"WeChat answered something other than JSON on {path}") from None
    if not isinstance(body, dict):
        raise WeChatUnavailableError(f"WeChat answered an unexpected shape on {path}")
    errcode = int(body.get("errcode") or 0)
    if errcode == -1:  # "system error": WeChat is busy, try again later
        raise WeChatUnavailableError(f"WeChat busy on {path}: {body.get('errmsg', '')}")
    if errcode:
        raise _ERRCODES.get(errcode, WeChatError)(errcode, str(body.get("errmsg", "")))
    return body


def code_to_session(appid: str, secret: str, code: str) -> Session:
    """auth.code2Session: GET /sns/jscode2session."""
    body = _call(
        "GET",
        "/sns/jscode2session",
        params={"appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"},
    )
    if not body.get("openid") or not body.get("session_key"):
        raise WeChatUnavailableError("jscode2session answered without openid/session_key")
    return Session(openid=body["openid"], session_key=body["session_key"], unionid=body.get("unionid", ""))


def fetch_access_token(appid: str, secret: str, *, stable: bool = True, force_refresh: bool = False) -> tuple[str, int]:
    """A fresh access token and its lifetime in seconds.

    stable=True uses POST /cgi-bin/stable_token (WeChat's recommendation: the
    token does not change under a caller's feet); stable=False the classic
    GET /cgi-bin/token.
    """
    if stable:
        body = _call(
            "POST",
            "/cgi-bin/stable_token",
            json={"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force_refresh},
        )
    else:
        body = _call(
            "GET", "/cgi-bin/token", params={"grant_type": "client_credential", "appid": appid, "secret": secret}
        )
    if not body.get("access_token"):
        raise WeChatUnavailableError("token endpoint answered without access_token")
    return body["access_token"], int(body.get("expires_in", 7200))


def msg_sec_check(access_token: str, openid: str, content: str, scene: int = 2) -> Verdict:
    """security.msgSecCheck v2: POST /wxa/msg_sec_check. scene 2 = comment (留言)."""
    body = _call(
        "POST",
        "/wxa/msg_sec_check",
        params={"access_token": access_token},
        json={"content": content, "version": 2, "scene": scene, "openid": openid},
    )
    result = body.get("result") or {}
    return Verdict(
        suggest=str(result.get("suggest", "pass")),
        label=int(result.get("label", 100)),
        trace_id=str(body.get("trace_id", "")),
    )


def send_subscribe_message(
    access_token: str,
    openid: str,
    template_id: str,
    data: dict[str, Any],
    page: str | None = None,
    miniprogram_state: str = "formal",
    lang: str = "zh_CN",
) -> None:
    """subscribeMessage.send: POST /cgi-bin/message/subscribe/send.

    `data` is {"thing1": "text", ...} or already {"thing1": {"value": "text"}}.
    """
    payload: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {key: value if isinstance(value, dict) else {"value": value} for key, value in data.items()},
        "miniprogram_state": miniprogram_state,
        "lang": lang,
    }
    if page:
        payload["page"] = page
    _call("POST", "/cgi-bin/message/subscribe/send", params={"access_token": access_token}, json=payload)
