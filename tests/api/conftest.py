"""Fixtures for the API tests: the WeChat stand-in over real HTTP, mini-programs, clients.

The stand-in runs as its own process (`python -m devtools.wechat_standin`) on a
free port for the whole session; every test starts with it reset, with a clean
cache namespace, generous rate limits, and settings.WECHAT_API_BASE pointing at it.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import pytest
import requests
from django.core.cache import cache

from corelib import cache as safe_cache
from tests.api import openapi_conformance
from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_for_port
from tests.wsgi_client import ProductionClient

APP_A = ("wxtestapp00000001", "secret-a-123456")
APP_B = ("wxtestapp00000002", "secret-b-654321")
GENEROUS = {name: (100000, 60) for name in ("login_ip", "login_app", "post_user", "write_user", "write_ip")}


class StandIn:
    """Drives the stand-in's /__standin__/ admin endpoints."""

    def __init__(self, base: str):
        self.base = base

    def _post(self, name: str, body: dict) -> dict:
        response = requests.post(f"{self.base}/__standin__/{name}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()

    def mint(self, appid: str, openid: str | None = None, unionid: str = "") -> dict:
        return self._post("codes", {"appid": appid, "openid": openid, "unionid": unionid})

    def register_app(self, appid: str, secret: str) -> None:
        self._post("apps", {"appid": appid, "secret": secret})

    def flag(self, *words: str) -> None:
        self._post("flagged", {"words": list(words)})

    def fault(self, **fault) -> None:
        self._post("faults", fault)

    def refuse(self, openid: str) -> None:
        self._post("refusals", {"openid": openid})

    def expire_tokens(self) -> None:
        self._post("expire_tokens", {})

    def reset(self) -> None:
        self._post("reset", {})

    def calls(self, path: str | None = None) -> list[dict]:
        calls = requests.get(f"{self.base}/__standin__/calls", timeout=5).json()
        return [call for call in calls if path is None or call["path"] == path]


@pytest.fixture(scope="session")
def standin_process():
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, "-m", "devtools.wechat_standin", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=15)
        yield StandIn(f"http://127.0.0.1:{port}")
    finally:
        stop_process(process)


@pytest.fixture(autouse=True)
def api_env(settings, standin_process):
    """Per test: the stand-in reset and in use, an empty cache namespace, no rate limiting."""
    settings.WECHAT_API_BASE = standin_process.base
    settings.WECHAT_READ_TIMEOUT = 2.0
    settings.RATE_LIMITS = GENEROUS
    standin_process.reset()
    cache.delete_pattern("*")  # only this run's prefix, in this run's Redis database
    safe_cache.reset_backoff()
    yield


@pytest.fixture
def standin(standin_process) -> StandIn:
    return standin_process


@pytest.fixture
def mini_programs():
    from apps.accounts.models import MiniProgram

    return [MiniProgram.objects.create(appid=appid, secret=secret, name=appid[-1]) for appid, secret in (APP_A, APP_B)]


class Api:
    """JSON through production's WSGI entry point and /api/ chain, optionally with a bearer token."""

    def __init__(self, token: str | None = None, **defaults):
        self.client = ProductionClient(**defaults)
        self.token = token

    def _headers(self, headers: dict | None) -> dict:
        merged = {"authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def request(self, method: str, path: str, body=None, headers=None, raw: str | None = None, **extra):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        response = getattr(self.client, method)(
            path, data=data, content_type="application/json", headers=self._headers(headers), **extra
        )
        return self._conforming(method, path, response)

    def get(self, path: str, headers=None, **extra):
        return self._conforming("get", path, self.client.get(path, headers=self._headers(headers), **extra))

    @staticmethod
    def _conforming(method: str, path: str, response):
        openapi_conformance.check(
            method, path, response.status_code, response.get("Content-Type", ""), response.content
        )
        return response

    def post(self, path: str, body=None, **kwargs):
        return self.request("post", path, body, **kwargs)

    def patch(self, path: str, body=None, **kwargs):
        return self.request("patch", path, body, **kwargs)

    def put(self, path: str, body=None, **kwargs):
        return self.request("put", path, body, **kwargs)

    def delete(self, path: str, **kwargs):
        return self.request("delete", path, None, **kwargs)


@dataclass
class Person:
    """A logged-in user of one mini-program, with a client carrying their token."""

    api: Api
    user_id: int
    openid: str
    appid: str


def log_in(standin: StandIn, appid: str, openid: str | None = None) -> Person:
    minted = standin.mint(appid, openid=openid)
    response = Api().post("/api/v1/auth/login", {"appid": appid, "code": minted["code"]})
    assert response.status_code == 200, response.content
    body = response.json()
    return Person(api=Api(body["token"]), user_id=body["user"]["id"], openid=minted["openid"], appid=appid)


@pytest.fixture
def alice(standin, mini_programs) -> Person:
    return log_in(standin, APP_A[0])


@pytest.fixture
def bob(standin, mini_programs) -> Person:
    return log_in(standin, APP_A[0])


@pytest.fixture
def carol_other_app(standin, mini_programs) -> Person:
    """A user of the second mini-program: none of the first one's boards exist for her."""
    return log_in(standin, APP_B[0])


@pytest.fixture
def board(alice) -> dict:
    response = alice.api.post("/api/v1/boards", {"title": "Guestbook", "description": "Say hi"})
    assert response.status_code == 201, response.content
    return response.json()


def post(person: Person, board_id: int, content: str) -> dict:
    response = person.api.post(f"/api/v1/boards/{board_id}/messages", {"content": content})
    assert response.status_code == 201, response.content
    return response.json()


def error_of(response) -> dict:
    """The error object of a 4xx answer, checking the shared shape on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]
