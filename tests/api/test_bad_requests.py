"""Malformed requests get a 4xx in the API's error shape and change nothing (through project.wsgi)."""

import pytest

from apps.boards.models import Board
from corelib.security_headers import API_CONTENT_SECURITY_POLICY
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

TOO_MANY_FIELDS = "&".join(f"p{n}=1" for n in range(1500))
SMALL_LIMIT = 2000


def test_a_body_over_the_limit_is_a_413_and_stores_nothing(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SMALL_LIMIT

    response = alice.api.post("/api/v1/boards", {"title": "big", "description": "x" * SMALL_LIMIT})

    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"
    assert Board.objects.count() == 0


def test_a_body_just_under_the_limit_is_served(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = SMALL_LIMIT

    response = alice.api.post("/api/v1/boards", {"title": "fits", "padding": "x" * (SMALL_LIMIT - 100)})

    assert response.status_code == 201
    assert Board.objects.count() == 1


@pytest.mark.parametrize("path", ["/api/v1/boards", "/api/health", "/api/v1/nowhere"])
def test_a_query_string_with_too_many_parameters_is_a_400(alice, path):
    response = alice.api.get(f"{path}?{TOO_MANY_FIELDS}")

    assert response.status_code == 400
    assert error_of(response)["code"] == "too_many_fields"


def test_a_write_with_too_many_parameters_stores_nothing(alice):
    response = alice.api.post(f"/api/v1/boards?{TOO_MANY_FIELDS}", {"title": "t"})

    assert response.status_code == 400
    assert Board.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/v1/boards", "/api/health", "/api/ready", "/api/v1/openapi.json"])
def test_an_unknown_host_is_refused_on_every_api_route(alice, path):
    response = alice.api.get(path, headers={"host": "evil.example.com"})

    assert response.status_code == 400
    assert error_of(response) == {"code": "bad_host", "message": "This host name is not served here.", "field": "host"}


def test_a_write_for_an_unknown_host_stores_nothing(alice):
    response = alice.api.post("/api/v1/boards", {"title": "t"}, headers={"host": "evil.example.com"})

    assert response.status_code == 400
    assert Board.objects.count() == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer"},
        {"authorization": "Bearer \u00e9\u00e9"},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearer " + "a" * 5000},
        {"x-forwarded-for": "not-an-ip, ::::, 999.1.1.1"},
        {"content-type": "multipart/form-data; boundary="},
        {"accept": "\x00"},
    ],
)
def test_odd_headers_get_a_4xx_and_store_nothing(mini_programs, headers):
    response = Api().post("/api/v1/boards", {"title": "t"}, headers=headers)

    assert 400 <= response.status_code < 500
    error_of(response)
    assert Board.objects.count() == 0


@pytest.mark.parametrize(
    "query", ["%ff%fe", "limit=%00", "cursor=1&cursor=2", "limit=1e309", "=&=&&", "limit[]=1", "a=" + "%" * 300]
)
def test_odd_query_strings_get_an_answer_below_500(alice, query):
    response = alice.api.get(f"/api/v1/boards?{query}")

    assert response.status_code < 500
    if response.status_code >= 400:
        error_of(response)


def test_a_content_length_that_is_not_a_number_is_a_400(alice):
    response = alice.api.post("/api/v1/boards", {"title": "t"}, CONTENT_LENGTH="12abc")

    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_content_length"
    assert Board.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/boards", "/api/v1/nowhere", "/api/v1/openapi.json"])
def test_api_answers_forbid_framing_and_loading_anything(alice, path):
    response = alice.api.get(path)

    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_refused_body_forbids_framing_too(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = alice.api.post("/api/v1/boards", {"title": "too long for ten bytes"})

    assert response.status_code == 413
    assert response["Content-Security-Policy"] == API_CONTENT_SECURITY_POLICY


def test_the_field_count_matches_what_django_would_parse(alice):
    fields = [f"p{n}=1" for n in range(1000)]

    assert alice.api.get("/api/v1/boards?" + "&".join(fields)).status_code == 200
    assert alice.api.get("/api/v1/boards?" + "&".join([*fields, "one=more"])).status_code == 400
