"""Admin sign-in through project.wsgi's full chain: lockout per username and per address, and an audit trail."""

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model

from tests.wsgi_client import ProductionClient

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "right-pw-for-tests-only-4d7f"  # pragma: allowlist secret


@pytest.fixture
def staff(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user_model = get_user_model()
    return [user_model.objects.create_superuser(name, f"{name}@example.com", PASSWORD) for name in ("root", "ops")]


def sign_in(username: str, password: str, address: str) -> int:
    client = ProductionClient(REMOTE_ADDR=address)
    client.get("/admin/login/")
    token = client.cookies["csrftoken"].value
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"}
    return client.post("/admin/login/?next=/admin/", data).status_code


def test_repeated_failures_lock_the_username_out_even_with_the_right_password(staff):
    failures = [sign_in("root", "wrong", f"198.51.100.{n}") for n in range(3)]

    assert failures == [200, 200, 429]  # the form again with an error, then the lockout
    assert sign_in("root", PASSWORD, "198.51.100.50") == 429
    assert sign_in("ops", PASSWORD, "198.51.100.51") == 302  # another account is unaffected


def test_repeated_failures_lock_the_address_out_for_every_username(staff):
    answers = [sign_in(username, "wrong", "203.0.113.9") for username in ("guess1", "guess2", "guess3")]

    assert answers == [200, 200, 429]
    assert sign_in("ops", PASSWORD, "203.0.113.9") == 429
    assert sign_in("ops", PASSWORD, "203.0.113.10") == 302


def test_the_address_is_the_one_our_proxy_reports(staff, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    for _ in range(3):
        client = ProductionClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.77")
        client.get("/admin/login/")
        data = {"username": "nobody", "password": "x", "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
        client.post("/admin/login/", data)

    assert AccessAttempt.objects.filter(ip_address="192.0.2.77").exists()
    assert sign_in("ops", PASSWORD, "127.0.0.1") == 302  # the proxy itself is not locked out


def test_sign_ins_and_admin_changes_are_recorded(staff, mini_programs):
    client = ProductionClient(REMOTE_ADDR="198.51.100.99")
    client.get("/admin/login/")
    token = client.cookies["csrftoken"].value
    assert (
        client.post(
            "/admin/login/", {"username": "root", "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    program = mini_programs[0]
    token = client.cookies["csrftoken"].value
    data = {"appid": program.appid, "name": "renamed", "secret": "", "is_active": "on", "csrfmiddlewaretoken": token}
    assert client.post(f"/admin/accounts/miniprogram/{program.id}/change/", data).status_code == 302

    login = AccessLog.objects.get(username="root")
    assert login.ip_address == "198.51.100.99"
    change = LogEntry.objects.get(object_id=str(program.id))
    assert (change.user.username, change.is_change()) == ("root", True)


def test_the_admin_pages_carry_a_content_security_policy(staff):
    response = ProductionClient().get("/admin/login/")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
