"""MySQL unreachable mid-service (restarting, network cut): 503 with a reason, not a 500."""

import pytest
from django.db import connection

from corelib import dbpool
from tests.api.conftest import error_of
from tests.support import free_port

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def mysql_unreachable():
    """Point this thread's `default` connection at a closed port, then restore it."""
    original_port = connection.settings_dict["PORT"]
    connection.close()
    dbpool.reset_pools()
    connection.settings_dict["PORT"] = free_port()
    yield
    connection.close()
    connection.settings_dict["PORT"] = original_port
    dbpool.reset_pools()


def test_a_write_answers_503_naming_the_database_when_mysql_is_unreachable(alice, mysql_unreachable):
    response = alice.api.post("/api/v1/boards", {"title": "written while MySQL restarts"})

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert error_of(response)["code"] == "database_unavailable"


def test_the_service_answers_again_once_mysql_is_back(alice, mysql_unreachable):
    assert alice.api.get("/api/v1/boards").status_code == 503
    connection.settings_dict["PORT"] = 3306
    connection.close()
    assert alice.api.get("/api/v1/boards").status_code == 200
