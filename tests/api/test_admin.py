"""The admin never shows a mini-program's secret in full once saved."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import MiniProgram
from tests.api.conftest import APP_A

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def staff_client(mini_programs) -> Client:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    return client


def test_the_secret_is_masked_in_the_list_and_the_form(staff_client, mini_programs):
    program = mini_programs[0]

    listing = staff_client.get("/admin/accounts/miniprogram/")
    form = staff_client.get(f"/admin/accounts/miniprogram/{program.id}/change/")

    assert listing.status_code == 200 and form.status_code == 200
    assert APP_A[1] not in listing.content.decode() and APP_A[1] not in form.content.decode()
    assert APP_A[0] in listing.content.decode()


def test_saving_without_a_secret_keeps_the_old_one(staff_client, mini_programs):
    program = mini_programs[0]
    data = {"appid": program.appid, "name": "renamed", "secret": "", "is_active": "on"}

    response = staff_client.post(f"/admin/accounts/miniprogram/{program.id}/change/", data)

    assert response.status_code == 302
    program.refresh_from_db()
    assert (program.name, program.secret) == ("renamed", APP_A[1])


def test_a_new_mini_program_needs_a_secret(staff_client):
    response = staff_client.post("/admin/accounts/miniprogram/add/", {"appid": "wxnew", "secret": ""})

    assert response.status_code == 200  # the form again, with the error
    assert not MiniProgram.objects.filter(appid="wxnew").exists()


def test_the_session_key_is_not_shown_to_staff(staff_client, alice):
    from apps.accounts.models import WxUser

    user = WxUser.objects.get(id=alice.user_id)
    page = staff_client.get(f"/admin/accounts/wxuser/{user.id}/change/")

    assert page.status_code == 200
    assert user.session_key not in page.content.decode()
