"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): tokens from the real login flow.

The fuzzer may revoke its own token (POST /auth/logout); a 401 then makes
schemathesis log in again, as a mini-program would.

Each generated case is a new request, not a retry of an earlier one, so it gets
an Idempotency-Key of its own: a generated key ("0") reused for another body is
the client error the API rightly refuses with 422.
"""

import os
import uuid

import requests
import schemathesis


@schemathesis.auth(retry_on=[401])
class LoginFlowToken:
    def get(self, case, context) -> str:
        standin, server, appid = (os.environ[name] for name in ("FUZZ_STANDIN", "FUZZ_SERVER", "FUZZ_APPID"))
        code = requests.post(f"{standin}/__standin__/codes", json={"appid": appid, "openid": "o-fuzzer"}, timeout=10)
        login = requests.post(
            f"{server}/api/v1/auth/login", json={"appid": appid, "code": code.json()["code"]}, timeout=10
        )
        login.raise_for_status()
        token = login.json()["token"]
        with open(os.environ["FUZZ_TOKENS_FILE"], "a") as issued:  # what the leak scan looks for afterwards
            issued.write(token + "\n")
        return token

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def before_call(ctx, case, **kwargs) -> None:
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
