"""nginx from deploy/nginx.conf.template in front of the stack's Gunicorn."""

import shutil
import subprocess
import textwrap
import uuid

import pytest
import requests

from tests.runtime.stack import access_log_statuses
from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_for_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def nginx(stack, tmp_path):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body { color: #07c160; }\n")
    port = free_port()
    site = subprocess.run(
        [
            PYTHON,
            str(PROJECT_ROOT / "deploy/render_nginx.py"),
            f"--listen=127.0.0.1:{port}",
            "--server-name=localhost",
            f"--upstream=127.0.0.1:{stack.port}",
            f"--static-root={static}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    (tmp_path / "site.conf").write_text(site)
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / folder).mkdir()
    # The machine-wide part a real host has in /etc/nginx/nginx.conf, with every path private.
    (tmp_path / "nginx.conf").write_text(
        textwrap.dedent(f"""\
            user root;
            worker_processes 1;
            pid {tmp_path}/nginx.pid;
            error_log {tmp_path}/error.log;
            events {{ worker_connections 256; }}
            http {{
                include /etc/nginx/mime.types;
                access_log {tmp_path}/access.log;
                client_body_temp_path {tmp_path}/body;
                proxy_temp_path {tmp_path}/proxy;
                fastcgi_temp_path {tmp_path}/fastcgi;
                uwsgi_temp_path {tmp_path}/uwsgi;
                scgi_temp_path {tmp_path}/scgi;
                include {tmp_path}/site.conf;
            }}
            """)
    )
    process = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(tmp_path),
            "-e",
            str(tmp_path / "error.log"),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-g",
            "daemon off;",
        ],
    )
    try:
        wait_for_port(port, timeout=15)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def test_nginx_serves_static_files_itself(nginx, stack):
    response = requests.get(f"{nginx}/static/css/site.css", timeout=10)
    assert response.status_code == 200
    assert response.text == "body { color: #07c160; }\n"
    assert response.headers["Content-Type"] == "text/css"
    assert "max-age" in response.headers["Cache-Control"]
    assert requests.get(f"{nginx}/static/missing.css", timeout=10).status_code == 404
    # A request straight to Gunicorn after those: once its line is in the access log, theirs would be too.
    marker = uuid.uuid4().hex
    assert requests.get(f"{stack.url}/api/health?probe={marker}", timeout=10).status_code == 200
    access_log = stack.log("gunicorn-test-access.log")
    wait_until(lambda: marker in access_log.read_text(), 30, "the marker request in the access log")
    assert "site.css" not in access_log.read_text()


def test_nginx_proxies_the_api_with_the_client_address(nginx, stack):
    probe = uuid.uuid4().hex
    # A forged X-Forwarded-For from the client is replaced by the address nginx saw.
    response = requests.get(
        f"{nginx}/api/version?probe={probe}", headers={"X-Forwarded-For": "203.0.113.66"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["environment"] == "test"
    access_log = stack.log("gunicorn-test-access.log")
    wait_until(lambda: probe in access_log.read_text(), 30, "the request in the access log (Supervisor writes it)")
    lines = [line for line in access_log.read_text().splitlines() if probe in line]
    assert len(lines) == 1
    assert '"127.0.0.1"' in lines[0]
    assert "203.0.113.66" not in lines[0]
    assert access_log_statuses(stack.log("gunicorn-test-access.log"), probe)[200] == 1


def test_nginx_refuses_an_oversized_body_before_gunicorn(nginx):
    response = requests.post(f"{nginx}/api/health", data=b"x" * (3 * 1024 * 1024), timeout=30)
    assert response.status_code == 413
