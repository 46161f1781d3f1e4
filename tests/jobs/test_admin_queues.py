"""django-rq's queue pages live inside the admin, behind its login."""

import pytest

DASHBOARD = "/admin/django_rq/dashboard/"

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_queue_statistics_need_an_admin_login(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_admin_sees_each_queue(admin_client):
    response = admin_client.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    for index, queue in enumerate(sorted(("high", "default", "low"))):
        assert f"{DASHBOARD}queues/{index}/" in page
        detail = admin_client.get(f"{DASHBOARD}queues/{index}/")
        assert detail.status_code == 200 and queue in detail.content.decode()
