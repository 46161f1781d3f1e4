"""POST /api/v1/auth/login: WeChat login for several mini-programs, errors mapped."""

import pytest

from apps.accounts.models import ApiToken, WxUser
from apps.accounts.services import digest_of
from tests.api.conftest import APP_A, APP_B, Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def login(appid: str, code: str):
    return Api().post("/api/v1/auth/login", {"appid": appid, "code": code})


def test_it_logs_in_users_of_two_mini_programs(standin, mini_programs):
    first = standin.mint(APP_A[0], openid="o-same-person", unionid="u-1")
    second = standin.mint(APP_B[0], openid="o-same-person")

    a = login(APP_A[0], first["code"])
    b = login(APP_B[0], second["code"])

    assert a.status_code == 200 and b.status_code == 200
    assert a.json()["user"]["appid"] == APP_A[0] and b.json()["user"]["appid"] == APP_B[0]
    assert a.json()["user"]["unionid"] == "u-1"
    assert a.json()["user"]["id"] != b.json()["user"]["id"]  # one user per mini-program
    assert a.json()["created"] is True
    assert WxUser.objects.filter(openid="o-same-person").count() == 2


def test_it_sends_the_mini_programs_own_credentials(standin, mini_programs):
    standin.register_app(*APP_B)  # the stand-in now rejects a wrong secret for B
    response = login(APP_B[0], standin.mint(APP_B[0])["code"])

    assert response.status_code == 200
    (call,) = standin.calls("/sns/jscode2session")
    assert call["query"]["appid"] == APP_B[0] and call["query"]["secret"] == APP_B[1]
    assert call["query"]["grant_type"] == "authorization_code"


def test_it_finds_the_same_user_on_a_second_login(standin, mini_programs):
    first = login(APP_A[0], standin.mint(APP_A[0], openid="o-returning")["code"]).json()
    second = login(APP_A[0], standin.mint(APP_A[0], openid="o-returning")["code"]).json()

    assert first["user"]["id"] == second["user"]["id"]
    assert second["created"] is False
    assert first["token"] != second["token"]


def test_it_stores_only_the_digest_of_the_token(standin, mini_programs):
    body = login(APP_A[0], standin.mint(APP_A[0])["code"]).json()

    stored = ApiToken.objects.get(user_id=body["user"]["id"])
    assert stored.digest == digest_of(body["token"])
    assert not ApiToken.objects.filter(digest=body["token"]).exists()
    assert body["expires_at"]


def test_it_answers_401_for_an_invalid_code(standin, mini_programs):
    response = login(APP_A[0], "no-such-code")

    assert response.status_code == 401
    assert error_of(response) | {"message": ""} == {"code": "invalid_code", "field": "code", "message": ""}


def test_it_answers_401_for_a_used_code(standin, mini_programs):
    code = standin.mint(APP_A[0])["code"]
    assert login(APP_A[0], code).status_code == 200

    again = login(APP_A[0], code)

    assert again.status_code == 401
    assert error_of(again)["code"] == "invalid_code"


def test_it_answers_401_for_a_code_of_another_mini_program(standin, mini_programs):
    response = login(APP_A[0], standin.mint(APP_B[0])["code"])

    assert response.status_code == 401


def test_it_answers_429_when_wechat_rate_limits(standin, mini_programs):
    standin.fault(path="/sns/jscode2session", errcode=45011, errmsg="api minute-quota reach limit")

    response = login(APP_A[0], standin.mint(APP_A[0])["code"])

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert error_of(response)["code"] == "wechat_rate_limited"


def test_it_answers_503_when_wechat_times_out(standin, mini_programs, settings):
    settings.WECHAT_READ_TIMEOUT = 0.3
    standin.fault(path="/sns/jscode2session", delay=1.5)

    response = login(APP_A[0], standin.mint(APP_A[0])["code"])

    assert response.status_code == 503
    assert error_of(response)["code"] == "wechat_unavailable"


def test_it_answers_503_when_wechat_is_unreachable(mini_programs, settings):
    from tests.support import free_port

    settings.WECHAT_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    response = login(APP_A[0], "any-code")

    assert response.status_code == 503


def test_it_answers_503_when_wechat_fails_with_a_server_error(standin, mini_programs):
    standin.fault(path="/sns/jscode2session", http_status=502)

    assert login(APP_A[0], standin.mint(APP_A[0])["code"]).status_code == 503


def test_it_answers_404_for_an_unknown_appid(standin, mini_programs):
    response = login("wxnosuchapp", standin.mint("wxnosuchapp")["code"])

    assert response.status_code == 404
    assert error_of(response)["field"] == "appid"
    assert standin.calls("/sns/jscode2session") == []  # WeChat was not even asked


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x"}, "appid"),
        ({"appid": APP_A[0]}, "code"),
        ({"appid": APP_A[0], "code": ""}, "code"),
        ({"appid": 12, "code": "x"}, "appid"),
        ({"appid": APP_A[0], "code": ["x"]}, "code"),
        ({"appid": "x" * 33, "code": "x"}, "appid"),
    ],
)
def test_it_names_the_bad_field(mini_programs, body, field):
    response = Api().post("/api/v1/auth/login", body)

    assert response.status_code == 422
    assert error_of(response)["field"] == field


def test_it_rejects_a_body_that_is_not_json(mini_programs):
    response = Api().post("/api/v1/auth/login", raw="{appid: nope")

    assert response.status_code == 400
    assert error_of(response)["field"] == "body"


def test_it_rejects_an_empty_body(mini_programs):
    response = Api().post("/api/v1/auth/login", raw="")

    assert 400 <= response.status_code < 500
    assert error_of(response)["field"]
