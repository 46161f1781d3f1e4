"""schemathesis against the served OpenAPI document, over HTTP to Gunicorn, with tokens from the real login flow.

All checks (server errors, status codes, content types, headers, response
schemas, negative and positive data, auth, use after free, resource
availability...) and all phases, the stateful one included, for FUZZ_SECONDS
(60 in `make test`, longer in `make fuzz`). Then everything the run wrote
(Gunicorn's and the app's logs, every response, what Sentry received) is
searched for session keys, raw tokens and secrets.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from apps.accounts.models import MiniProgram, WxUser
from devtools import sentry_standin
from tests.api.conftest import APP_A
from tests.api.gunicorn_server import gunicorn
from tests.support import PYTHON, subprocess_env

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
NO_LIMITS = {f"RATE_{name}": "1000000000" for name in ("LOGIN_PER_IP", "LOGIN_PER_APP", "POST_PER_USER")}
NO_LIMITS |= {"RATE_WRITE_PER_USER": "1000000000", "RATE_WRITE_PER_IP": "1000000000"}


@pytest.fixture
def sentry():
    server = sentry_standin.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def run_schemathesis(url: str, report_dir: Path, env: dict) -> subprocess.CompletedProcess:
    report_dir.mkdir()
    command = [str(Path(PYTHON).parent / "schemathesis"), "run", f"{url}/api/v1/openapi.json"]
    command += ["--checks", "all", "--phases", "examples,coverage,fuzzing,stateful"]
    command += ["--max-time", str(FUZZ_SECONDS), "--workers", "1", "--request-timeout", "10"]
    command += ["--report", "json,vcr", "--report-dir", str(report_dir), "--generation-database", "none"]
    command += ["--no-color", "--output-sanitize", "false"]
    # Run from the report directory: schemathesis keeps a cache in its working directory.
    return subprocess.run(
        command, cwd=report_dir, env=env, capture_output=True, text=True, timeout=FUZZ_SECONDS * 3 + 120
    )


def test_the_fuzzer_finds_no_failure_and_nothing_secret_leaks(tmp_path, standin, mini_programs, sentry, settings):
    log_dir, report_dir, tokens_file = tmp_path / "logs", tmp_path / "report", tmp_path / "tokens"
    log_dir.mkdir()
    host, port = sentry.server_address[:2]
    server_env = subprocess_env(
        WECHAT_API_BASE=standin.base, LOG_DIR=log_dir, SENTRY_DSN=f"http://public@{host}:{port}/1", **NO_LIMITS
    )
    with gunicorn(server_env, workers=2, access_log=log_dir / "access.log") as url:
        fuzz_env = subprocess_env(
            SCHEMATHESIS_HOOKS="tests.api.fuzz_hooks",
            FUZZ_STANDIN=standin.base,
            FUZZ_SERVER=url,
            FUZZ_APPID=APP_A[0],
            FUZZ_TOKENS_FILE=tokens_file,
        )
        result = run_schemathesis(url, report_dir, fuzz_env)
    print(result.stdout[-6000:])

    assert result.returncode == 0, result.stdout[-20000:]

    secrets_ = {settings.SECRET_KEY, *MiniProgram.objects.values_list("secret", flat=True)}
    secrets_ |= {key for key in WxUser.objects.values_list("session_key", flat=True) if key}
    tokens = set(tokens_file.read_text().split())
    logs = {str(path): path.read_text(errors="replace") for path in log_dir.rglob("*") if path.is_file()}
    logs["sentry envelopes"] = json.dumps(sentry.events)
    responses = {str(path): path.read_text(errors="replace") for path in report_dir.rglob("*") if path.is_file()}
    assert len(secrets_) >= 4 and tokens and any("HTTP/1.1" in text for text in logs.values())  # all written
    # Tokens travel in requests and login answers, which the report records; never in a log.
    found = {name: sorted(s[:6] + "..." for s in secrets_ | tokens if s in text) for name, text in logs.items()}
    found |= {name: sorted(s[:6] + "..." for s in secrets_ if s in text) for name, text in responses.items()}
    assert {name: leaked for name, leaked in found.items() if leaked} == {}
