"""One error shape everywhere under /api/, and the OpenAPI document."""

import os
import subprocess

import pytest

from tests.api.conftest import Api, error_of
from tests.support import PROJECT_ROOT, PYTHON

pytestmark = pytest.mark.django_db(databases="__all__")


def test_an_unknown_route_is_a_json_404(mini_programs):
    for path in ["/api/v1/nope", "/api/v2/boards", "/api/v1/boards/1/nope", "/api/v1/auth/login/"]:
        response = Api().get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_a_wrong_method_is_a_json_405(mini_programs):
    response = Api().get("/api/v1/auth/login")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


def test_the_openapi_document_is_served(mini_programs):
    response = Api().get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/auth/login" in paths and "/api/v1/boards/{board_id}/messages" in paths
    login_post = paths["/api/v1/auth/login"]["post"]
    assert "requestBody" in login_post and "422" in login_post["responses"]


def test_the_docs_page_is_off_outside_debug(mini_programs):
    assert Api().get("/api/v1/docs").status_code == 404


def test_the_docs_page_is_on_in_debug():
    script = (
        "import django; django.setup(); from django.test import Client; print(Client().get('/api/v1/docs').status_code)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings_debug", "DB_HOST": ""}
    done = subprocess.run([PYTHON, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert done.stdout.strip() == "200", done.stderr


@pytest.mark.parametrize("raw", ['"a string"', "[]", "1", "null", "{", "\xff"])
def test_a_body_that_is_not_a_json_object_is_a_400(alice, raw):
    for path in ["/api/v1/boards", "/api/v1/auth/login"]:
        response = alice.api.post(path, raw=raw)

        assert response.status_code == 400, (path, raw, response.content)
        assert error_of(response)["field"] == "body"


def test_every_operation_documents_the_statuses_it_can_answer(mini_programs):
    paths = Api().get("/api/v1/openapi.json").json()["paths"]
    operations = {(method.upper(), path): op for path, item in paths.items() for method, op in item.items()}
    writes = {key for key in operations if key[0] != "GET"}

    for (method, path), operation in operations.items():
        documented = {int(status) for status in operation["responses"]}
        assert {400, 413, 500, 503} <= documented, (method, path, documented)
        if operation.get("security"):
            assert 401 in documented, (method, path)
        if (method, path) in writes:
            assert 429 in documented, (method, path)
    assert {401, 404, 422, 429, 502} <= {int(s) for s in operations[("POST", "/api/v1/auth/login")]["responses"]}
    assert 422 in {int(s) for s in operations[("PATCH", "/api/v1/me")]["responses"]}


def test_the_suite_checks_every_answer_against_the_document():
    from tests.api.openapi_conformance import check

    board = b'{"id": 1, "mini_program_id": 1, "owner_id": 1, "title": "t", "description": "", '
    board += b'"created_at": "2026-01-01T00:00:00Z"}'
    check("get", "/api/v1/boards/1", 200, "application/json", board)
    with pytest.raises(AssertionError, match="does not document"):
        check("get", "/api/v1/boards/1", 418, "application/json", b"{}")
    with pytest.raises(AssertionError, match="does not match"):
        check("get", "/api/v1/boards/1?x=1", 200, "application/json", b'{"id": "one"}')
    with pytest.raises(AssertionError, match="no body"):
        check("delete", "/api/v1/messages/5", 204, "", b"{}")
