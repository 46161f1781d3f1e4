"""The WeChat stand-in's controls, as `make run` users and the tests drive them."""

import requests

from tests.api.conftest import APP_A


def test_a_code_minted_with_a_form_post_logs_in_once(standin):
    minted = requests.post(f"{standin.base}/__standin__/codes", data={"appid": APP_A[0], "openid": "o-me"}, timeout=5)
    code = minted.json()["code"]
    params = {"appid": APP_A[0], "secret": "s", "js_code": code, "grant_type": "authorization_code"}

    first = requests.get(f"{standin.base}/sns/jscode2session", params=params, timeout=5).json()
    second = requests.get(f"{standin.base}/sns/jscode2session", params=params, timeout=5).json()

    assert minted.status_code == 201 and first["openid"] == "o-me" and "session_key" in first
    assert second["errcode"] == 40163


def test_a_forced_fault_lasts_for_the_given_number_of_calls(standin):
    standin.fault(path="/cgi-bin/token", errcode=45011, count=2)
    params = {"grant_type": "client_credential", "appid": APP_A[0], "secret": "s"}

    answers = [requests.get(f"{standin.base}/cgi-bin/token", params=params, timeout=5).json() for _ in range(3)]

    assert [a.get("errcode") for a in answers] == [45011, 45011, None]
    assert "access_token" in answers[2]
    assert len(standin.calls("/cgi-bin/token")) == 3


def test_an_unknown_api_is_a_404(standin):
    assert requests.get(f"{standin.base}/cgi-bin/nope", timeout=5).status_code == 404
