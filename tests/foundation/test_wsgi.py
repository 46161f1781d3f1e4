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


def test_a_kept_url_match_gives_each_request_its_own_arguments():
    # The API's handler keeps each path's URL match (corelib.url_cache); a change one request's
    # middleware makes to its view arguments must not reach the next request for the same path.
    from corelib import url_cache

    first = url_cache.resolve("/api/v1/boards/5/messages")
    first.kwargs["board_id"] = "changed"
    again = url_cache.resolve("/api/v1/boards/5/messages")
    other = url_cache.resolve("/api/v1/boards/7/messages")
    assert again.kwargs == {"board_id": "5"}
    assert other.kwargs == {"board_id": "7"}
    assert again.func is other.func
    assert again is not first


def test_the_kept_url_matches_follow_a_swapped_urlconf(settings):
    from django.urls import Resolver404

    from corelib import url_cache

    url_cache.resolve("/api/health")  # kept under the project's URLconf
    settings.ROOT_URLCONF = "tests.foundation.urls_empty"
    with pytest.raises(Resolver404):
        url_cache.resolve("/api/health")
