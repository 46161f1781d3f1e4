"""corelib.wechat against the stand-in over real HTTP: shapes and errcodes."""

import json
import ssl
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corelib import wechat
from tests.api.conftest import APP_A


@pytest.fixture
def token(standin) -> str:
    access_token, expires_in = wechat.fetch_access_token(*APP_A)
    assert expires_in == 7200
    return access_token


def test_code_to_session_returns_openid_unionid_and_session_key(standin):
    minted = standin.mint(APP_A[0], unionid="union-1")

    session = wechat.code_to_session(APP_A[0], APP_A[1], minted["code"])

    assert (session.openid, session.unionid, session.session_key) == (
        minted["openid"],
        "union-1",
        minted["session_key"],
    )
    assert minted["session_key"] not in repr(session)


@pytest.mark.parametrize(
    ("errcode", "error"),
    [
        (40029, wechat.InvalidCodeError),
        (40163, wechat.InvalidCodeError),
        (45011, wechat.WeChatRateLimitError),
        (-1, wechat.WeChatUnavailableError),
        (40125, wechat.CredentialsError),
        (99999, wechat.WeChatError),
    ],
)
def test_code_to_session_maps_errcodes(standin, errcode, error):
    standin.fault(path="/sns/jscode2session", errcode=errcode)

    with pytest.raises(error) as raised:
        wechat.code_to_session(APP_A[0], APP_A[1], standin.mint(APP_A[0])["code"])
    assert raised.value.errcode == errcode


def test_a_slow_wechat_is_a_timeout(standin, settings):
    settings.WECHAT_READ_TIMEOUT = 0.2
    standin.fault(path="/cgi-bin/stable_token", delay=1.0)

    with pytest.raises(wechat.WeChatUnavailableError):
        wechat.fetch_access_token(*APP_A)


def test_the_classic_and_the_stable_token_endpoints(standin):
    classic, _ = wechat.fetch_access_token(*APP_A, stable=False)
    stable, _ = wechat.fetch_access_token(*APP_A)
    again, _ = wechat.fetch_access_token(*APP_A)

    assert classic != stable and stable == again  # the stable token does not change under us
    assert wechat.fetch_access_token(*APP_A, force_refresh=True)[0] != stable
    (call,) = standin.calls("/cgi-bin/token")
    assert call["query"]["grant_type"] == "client_credential"


def test_a_wrong_secret_is_a_credentials_error(standin):
    standin.register_app(APP_A[0], "the-real-secret")

    with pytest.raises(wechat.CredentialsError):
        wechat.fetch_access_token(APP_A[0], "wrong")


def test_msg_sec_check_passes_and_flags(standin, token):
    standin.flag("赌博")

    clean = wechat.msg_sec_check(token, "o-user", "今天天气不错 ☀️")
    risky = wechat.msg_sec_check(token, "o-user", "来赌博吧")

    assert (clean.suggest, clean.is_risky) == ("pass", False)
    assert (risky.suggest, risky.is_risky) == ("risky", True)
    with pytest.raises(wechat.RiskyContentError):
        risky.raise_if_risky()
    call = standin.calls("/wxa/msg_sec_check")[0]
    assert call["body"] == {"content": "今天天气不错 ☀️", "version": 2, "scene": 2, "openid": "o-user"}


def test_an_expired_or_unknown_access_token_is_reported(standin, token):
    with pytest.raises(wechat.AccessTokenError) as unknown:
        wechat.msg_sec_check("not-a-token", "o-user", "hi")
    standin.expire_tokens()
    with pytest.raises(wechat.AccessTokenError) as expired:
        wechat.send_subscribe_message(token, "o-user", "tmpl", {"thing1": "hi"})

    assert (unknown.value.errcode, expired.value.errcode) == (40001, 42001)


def test_send_subscribe_message(standin, token):
    wechat.send_subscribe_message(
        token, "o-user", "tmpl-1", {"thing1": "有人回复了你", "time2": "2026-11-23"}, page="p"
    )

    call = standin.calls("/cgi-bin/message/subscribe/send")[0]
    assert call["query"]["access_token"] == token
    assert call["body"]["data"] == {"thing1": {"value": "有人回复了你"}, "time2": {"value": "2026-11-23"}}
    assert (call["body"]["touser"], call["body"]["template_id"], call["body"]["page"]) == ("o-user", "tmpl-1", "p")


def test_a_refused_subscription_is_reported(standin, token):
    standin.refuse("o-refuser")

    with pytest.raises(wechat.SubscriptionRefusedError) as raised:
        wechat.send_subscribe_message(token, "o-refuser", "tmpl-1", {"thing1": "x"})
    assert raised.value.errcode == 43101


def test_concurrent_calls_reuse_kept_connections_instead_of_discarding_them(standin, caplog):
    # A gevent worker holds many WeChat calls at once; each finished one keeps its connection for the next.
    minted = [standin.mint(APP_A[0]) for _ in range(40)]
    with caplog.at_level("WARNING", logger="urllib3.connectionpool"), ThreadPoolExecutor(40) as calls:
        sessions = list(calls.map(lambda m: wechat.code_to_session(APP_A[0], APP_A[1], m["code"]), minted))

    assert [s.openid for s in sessions] == [m["openid"] for m in minted]
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


@pytest.fixture
def tls_wechat(tmp_path):
    """A WeChat look-alike over HTTPS on localhost, with a self-signed certificate: (base URL, certificate file)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Token(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"access_token": "over-tls", "expires_in": 7200}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Token)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://localhost:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def test_it_refuses_a_wechat_whose_certificate_it_cannot_verify(tls_wechat, settings, monkeypatch):
    base, _ = tls_wechat
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    settings.WECHAT_API_BASE = base
    monkeypatch.setattr(wechat, "_managers", {})

    with pytest.raises(wechat.WeChatUnavailableError):
        wechat.fetch_access_token(*APP_A, stable=False)


def test_it_trusts_the_ca_bundle_named_in_the_environment(tls_wechat, settings, monkeypatch):
    base, cert = tls_wechat
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    settings.WECHAT_API_BASE = base
    monkeypatch.setattr(wechat, "_managers", {})

    assert wechat.fetch_access_token(*APP_A, stable=False) == ("over-tls", 7200)
