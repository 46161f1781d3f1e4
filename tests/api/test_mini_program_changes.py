"""A mini-program's row is kept by each process for a few seconds (apps.accounts.mini_programs):
what an operator changes still reaches the next logins."""

import pytest
from django.db import connection

from apps.accounts import mini_programs as kept
from apps.accounts.models import MiniProgram
from tests.api.conftest import APP_A, Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def login(standin, appid: str = APP_A[0]):
    return Api().post("/api/v1/auth/login", {"appid": appid, "code": standin.mint(appid)["code"]})


def test_a_mini_program_deactivated_in_this_process_refuses_the_next_login_at_once(standin, mini_programs):
    assert login(standin).status_code == 200
    program = MiniProgram.objects.get(appid=APP_A[0])

    program.is_active = False
    program.save()  # as the admin does

    response = login(standin)
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_appid"


def test_a_change_made_elsewhere_reaches_this_process_within_its_keep_time(
    standin, mini_programs, monkeypatch, settings
):
    assert login(standin).status_code == 200
    MiniProgram.objects.filter(appid=APP_A[0]).update(is_active=False)  # another worker's save: no signal here

    assert login(standin).status_code == 200  # still the row this process read
    now = kept.time.monotonic()
    monkeypatch.setattr(kept.time, "monotonic", lambda: now + settings.MINI_PROGRAM_KEEP_SECONDS + 1)

    response = login(standin)
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_appid"


def test_a_secret_wechat_refuses_is_read_again_on_the_next_login(standin, mini_programs):
    new_secret = "rotated-" + APP_A[1]  # pragma: allowlist secret
    standin.register_app(APP_A[0], new_secret)  # WeChat now wants a secret the row does not have yet
    assert login(standin).status_code == 503
    MiniProgram.objects.filter(appid=APP_A[0]).update(secret=new_secret)  # the operator fixes it elsewhere

    response = login(standin)

    assert response.status_code == 200
    assert standin.calls("/sns/jscode2session")[-1]["query"]["secret"] == new_secret


def test_each_read_gets_its_own_instance_of_the_kept_row(mini_programs):
    kept.active(APP_A[0])  # read from MySQL and kept
    one_request = kept.active(APP_A[0])
    one_request.name = "changed by one request"

    another = kept.active(APP_A[0])
    assert another is not one_request
    assert another.name == APP_A[0][-1]


def test_a_mini_program_recreated_elsewhere_answers_a_retryable_503_then_logs_in(standin, mini_programs):
    assert login(standin).status_code == 200
    # Another process deletes the row (with its users and tokens) and creates it again: a new id, and no signal
    # in this process.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_apitoken")
        cursor.execute("DELETE FROM accounts_wxuser")
        cursor.execute("DELETE FROM accounts_miniprogram WHERE appid = %s", [APP_A[0]])
    MiniProgram.objects.bulk_create([MiniProgram(appid=APP_A[0], secret=APP_A[1], name="again")])

    refused = login(standin)
    assert refused.status_code == 503
    assert error_of(refused)["code"] == "mini_program_changed"
    again = login(standin)
    assert again.status_code == 200
    assert again.json()["user"]["appid"] == APP_A[0]
