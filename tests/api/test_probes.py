"""The two fixed-cost endpoints the benchmark measures (apps/probes)."""

import pytest
from django.core.cache import cache
from django.test import Client

from apps.probes.views import PROBE_KEY
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_json_probe_answers_the_small_document():
    body = Client().get("/api/probe/json").json()
    assert body["status"] == "ok"
    assert body["items"] == [1, 2, 3]


def test_the_db_redis_probe_answers_one_row_and_its_redis_value(mini_programs):
    app = mini_programs[1]
    cache.set(PROBE_KEY.format(app.pk), 7)
    body = Client().get(f"/api/probe/db-redis/{app.pk}").json()
    assert body == {"id": app.pk, "appid": app.appid, "name": app.name, "is_active": True, "hits": 7}


def test_the_db_redis_probe_answers_404_for_an_unknown_row(mini_programs):
    response = Client().get("/api/probe/db-redis/999999")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
