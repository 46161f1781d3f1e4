"""/api/ready names what is down only to a caller on this host or one holding OPS_TOKEN."""

import pytest
from django.test import override_settings

from tests.api.conftest import Api
from tests.support import free_port

pytestmark = pytest.mark.django_db(databases="__all__")

OUTSIDER = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.fixture
def redis_down():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        yield


def test_a_caller_on_this_host_sees_what_is_down(redis_down):
    response = Api(REMOTE_ADDR="127.0.0.1").get("/api/ready")

    assert response.status_code == 503
    assert list(response.json()["down"]) == ["redis"]


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(Api(**OUTSIDER), id="another address"),
        pytest.param(Api(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5"), id="through nginx"),
        pytest.param(Api(**OUTSIDER, HTTP_X_OPS_TOKEN="a-guess"), id="a wrong token"),
    ],
)
def test_anyone_else_gets_the_bare_status(redis_down, client, settings):
    settings.OPS_TOKEN = "ops-secret-for-tests-only"
    response = client.get("/api/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "error": {"code": "not_ready", "message": "Some components do not answer."},
    }
    assert "redis" not in response.content.decode()


def test_the_shared_secret_shows_the_details_from_elsewhere(redis_down, settings):
    settings.OPS_TOKEN = "ops-secret-for-tests-only"

    response = Api(**OUTSIDER, HTTP_X_OPS_TOKEN="ops-secret-for-tests-only").get("/api/ready")

    assert list(response.json()["down"]) == ["redis"]


def test_a_healthy_service_tells_an_outsider_only_that_it_is_ready():
    response = Api(**OUTSIDER).get("/api/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
