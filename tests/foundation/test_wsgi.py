"""The real WSGI entry point: the admin keeps its cookie protections, the API stays lean."""

import pytest
from django.test import RequestFactory

from project.wsgi import application


def call(path: str) -> tuple[str, dict, bytes]:
    environ = RequestFactory().get(path).environ
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    body = b"".join(application(environ, start_response))
    headers: dict = {}
    for name, value in seen["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return seen["status"], headers, body


@pytest.mark.django_db(databases="__all__")
def test_the_admin_login_page_keeps_csrf_and_clickjacking_protection():
    status, headers, body = call("/admin/login/")
    assert status.startswith("200")
    assert headers["x-frame-options"] == ["DENY"]
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers.get("set-cookie", []))
    assert b"csrfmiddlewaretoken" in body


def test_an_api_answer_sets_no_cookie_but_keeps_security_headers():
    status, headers, body = call("/api/health")
    assert status.startswith("200")
    assert "set-cookie" not in headers
    assert headers["x-content-type-options"] == ["nosniff"]
    assert body == b'{"status": "ok"}'


def test_an_unknown_api_path_still_answers_json():
    status, headers, body = call("/api/nowhere")
    assert status.startswith("404")
    assert headers["content-type"] == ["application/json"]


@pytest.mark.parametrize("path", ["/api/health", "/api/nowhere"])
def test_api_answers_carry_their_length_so_gunicorn_does_not_chunk_them(path):
    status, headers, body = call(path)
    assert headers["content-length"] == [str(len(body))]
    assert "transfer-encoding" not in headers
