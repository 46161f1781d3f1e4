"""The benchmark's fixed-cost endpoints (apps/probes): mounted only where PROBES_ENABLED is on."""

import importlib

import pytest
from django.core.cache import cache
from django.urls import clear_url_caches

import project.urls
from apps.probes.views import PROBE_KEY
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")

PROBES = ["/api/probe/json", "/api/probe/db-redis/1", "/api/health/db"]


def remount(settings, enabled: bool) -> None:
    settings.PROBES_ENABLED = enabled
    importlib.reload(project.urls)
    clear_url_caches()


@pytest.fixture
def probes_on(settings):
    remount(settings, True)
    yield
    remount(settings, False)


@pytest.mark.parametrize("path", PROBES)
def test_the_probes_are_not_mounted_by_default(mini_programs, path):
    response = Api().get(path)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_json_probe_answers_the_small_document(probes_on):
    body = Api().get("/api/probe/json").json()
    assert body["status"] == "ok"
    assert body["items"] == [1, 2, 3]


def test_the_db_redis_probe_answers_one_row_and_its_redis_value(probes_on, mini_programs):
    app = mini_programs[1]
    cache.set(PROBE_KEY.format(app.pk), 7)
    body = Api().get(f"/api/probe/db-redis/{app.pk}").json()
    assert body == {"id": app.pk, "appid": app.appid, "name": app.name, "is_active": True, "hits": 7}


def test_the_db_redis_probe_answers_404_for_an_unknown_row(probes_on, mini_programs):
    response = Api().get("/api/probe/db-redis/999999")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_database_probe_runs_one_query(probes_on):
    from corelib.models import OutboxJob

    assert Api().get("/api/health/db").json() == {"status": "ok", "outbox_rows": False}
    OutboxJob.objects.create(func_path="tests.jobs.sample_jobs.quick", args=["probe"], kwargs={}, queue="default")
    assert Api().get("/api/health/db").json() == {"status": "ok", "outbox_rows": True}


@pytest.fixture
def nothing_answers(settings):
    """MySQL and Redis both unreachable for this thread's requests."""
    from django.db import connection

    from corelib import dbpool
    from tests.support import free_port

    port = connection.settings_dict["PORT"]
    caches = {key: dict(value) for key, value in settings.CACHES.items()}
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = caches
    connection.close()
    dbpool.reset_pools()
    connection.settings_dict["PORT"] = free_port()
    yield
    connection.close()
    connection.settings_dict["PORT"] = port
    dbpool.reset_pools()


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_db_redis_probe_answers_503_json_when_mysql_is_down(probes_on, mini_programs, nothing_answers):
    response = Api(raise_request_exception=False).get(f"/api/probe/db-redis/{mini_programs[0].pk}")

    assert response.status_code == 503
    assert error_of(response)["code"] == "database_unavailable"


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_db_redis_probe_answers_503_json_when_only_redis_is_down(probes_on, mini_programs, settings):
    from tests.support import free_port

    caches = {key: dict(value) for key, value in settings.CACHES.items()}
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = caches

    response = Api(raise_request_exception=False).get(f"/api/probe/db-redis/{mini_programs[0].pk}")

    assert response.status_code == 503
    assert error_of(response)["code"] == "redis_unavailable"
