"""/api/health answers without touching anything; /api/ready names what is down."""

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.support import free_port

# The readiness check reads settings.DATABASES on every call, which is what these tests change.
pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def test_health_answers_without_touching_the_database_or_redis(client):
    # No django_db mark: any database access would fail this test.
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(databases="__all__")
def test_ready_answers_200_when_both_databases_and_redis_answer(client):
    response = client.get("/api/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def with_database_port(settings, alias: str, port: int) -> dict:
    databases = {name: dict(config) for name, config in settings.DATABASES.items()}
    databases[alias]["PORT"] = port
    return databases


@pytest.mark.django_db(databases="__all__")
def test_ready_names_mysql_when_it_is_unreachable(client, settings):
    with override_settings(DATABASES=with_database_port(settings, "default", free_port())):
        response = client.get("/api/ready")
    assert response.status_code == 503
    body = response.json()
    assert list(body["down"]) == ["database:default"]
    assert "database:default" in body["error"]["message"]


@pytest.mark.django_db(databases="__all__")
def test_ready_names_redis_when_it_is_unreachable(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/api/ready")
    assert response.status_code == 503
    assert list(response.json()["down"]) == ["redis"]


@pytest.fixture
def silent_server():
    """A port that accepts connections and never says a word, like a hung server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.mark.django_db(databases="__all__")
def test_ready_does_not_hang_on_servers_that_never_answer(client, settings, silent_server):
    with override_settings(
        DATABASES=with_database_port(settings, "admin", silent_server),
        REDIS_URL=f"redis://127.0.0.1:{silent_server}/0",
    ):
        response = client.get("/api/ready")
    assert response.status_code == 503
    assert set(response.json()["down"]) == {"database:admin", "redis"}


@pytest.mark.django_db(databases="__all__")
def test_wait_for_services_returns_once_everything_answers(capsys):
    call_command("wait_for_services", timeout=5)
    assert "All services answer" in capsys.readouterr().out


@pytest.mark.django_db(databases="__all__")
def test_wait_for_services_gives_up_with_a_message_naming_what_is_down():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        with pytest.raises(CommandError, match=r"Gave up after 0\.5s waiting for: redis"):
            call_command("wait_for_services", timeout=0.5, interval=0.1)
