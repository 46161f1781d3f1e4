"""WeChat's session_key stays on the server: stored, never answered, never logged."""

import logging

import pytest
from django.conf import settings

from apps.accounts.models import WxUser
from tests.api.conftest import APP_A, Api

pytestmark = pytest.mark.django_db(databases="__all__")


def test_session_key_is_stored_but_never_in_a_response_or_log(standin, mini_programs, caplog):
    caplog.set_level(logging.DEBUG)
    minted = standin.mint(APP_A[0])
    session_key = minted["session_key"]

    login = Api().post("/api/v1/auth/login", {"appid": APP_A[0], "code": minted["code"]})
    api = Api(login.json()["token"])
    responses = [
        login,
        api.get("/api/v1/me"),
        api.patch("/api/v1/me", {"nickname": "小明"}),
        # and the failure paths, which log: a used code, a WeChat error
        Api().post("/api/v1/auth/login", {"appid": APP_A[0], "code": minted["code"]}),
    ]
    standin.fault(path="/sns/jscode2session", http_status=500)
    responses.append(Api().post("/api/v1/auth/login", {"appid": APP_A[0], "code": standin.mint(APP_A[0])["code"]}))

    assert WxUser.objects.get(openid=minted["openid"]).session_key == session_key
    for response in responses:
        assert session_key.encode() not in response.content
        assert b"session_key" not in response.content
    assert caplog.records, "the login paths log something, so the check below means something"
    for record in caplog.records:
        assert session_key not in record.getMessage()
        assert session_key not in str(record.args)
    for log_file in settings.LOG_DIR.glob("*.log"):
        assert session_key not in log_file.read_text(errors="replace")
