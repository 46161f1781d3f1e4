"""50 concurrent first logins of one person, across several server processes: one user row.

The server is production's: gunicorn.conf.py (gevent workers, the fair worker class).
"""

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from apps.accounts.models import WxUser
from tests.api.conftest import APP_A
from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_for_http

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.slow]

LOGINS = 50


@pytest.fixture(params=["Redis up", "Redis down: the unique constraint alone"])
def server(request, service_env, standin, tmp_path):
    """Gunicorn as production runs it, with 4 gevent workers, on this run's databases (and Redis, or none)."""
    port = free_port()
    env = {
        **service_env,
        "DJANGO_SETTINGS_MODULE": "project.settings_test",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "4",
        "WECHAT_API_BASE": standin.base,
        "RATE_LOGIN_PER_IP": "100000",
    }
    if request.param.startswith("Redis down"):
        env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    process = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--pid", str(tmp_path / "gunicorn.pid"),
            "--control-socket", str(tmp_path / "gunicorn.ctl"),
            "--error-logfile", str(tmp_path / "error.log"),
            "--access-logfile", str(tmp_path / "access.log"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_concurrent_first_logins_of_one_openid_create_one_user(server, standin, mini_programs):
    codes = [standin.mint(APP_A[0], openid="o-everyone-at-once")["code"] for _ in range(LOGINS)]
    start = threading.Barrier(LOGINS, timeout=30)

    def login(code: str) -> requests.Response:
        start.wait()
        return requests.post(f"{server}/api/v1/auth/login", json={"appid": APP_A[0], "code": code}, timeout=30)

    with ThreadPoolExecutor(max_workers=LOGINS) as pool:
        responses = list(pool.map(login, codes))

    assert [r.status_code for r in responses] == [200] * LOGINS, [r.text for r in responses if r.status_code != 200]
    assert len({r.json()["user"]["id"] for r in responses}) == 1
    assert sum(r.json()["created"] for r in responses) == 1
    assert WxUser.objects.filter(openid="o-everyone-at-once").count() == 1
    assert len({r.json()["token"] for r in responses}) == LOGINS
