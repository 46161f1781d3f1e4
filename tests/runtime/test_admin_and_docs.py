"""What a newcomer sees from `make run`: a styled admin with a first login, and API docs that work offline.

A Gunicorn of the test's own runs the debug settings (what `make run` runs) on
this run's MySQL databases; a second one runs the test environment's settings
after `collectstatic`, as a deploy does.
"""

import re
import subprocess
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import requests

from tests.support import PROJECT_ROOT, free_port, stop_process, subprocess_env, wait_for_http

FIRST_ADMIN_PASSWORD = "a-long-enough-test-password"  # pragma: allowlist secret

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]


class AssetLinks(HTMLParser):
    """Every URL a browser would fetch for the page: scripts, stylesheets, icons, images."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "img") and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"])


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


@contextmanager
def gunicorn(tmp_path, **env_overrides):
    port = free_port()
    env = subprocess_env(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=1, DB_HOST="127.0.0.1", **env_overrides)
    process = subprocess.Popen(
        [
            str(PROJECT_ROOT / ".venv/bin/gunicorn"),
            "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--pid", str(tmp_path / f"gunicorn-{port}.pid"),
            "--control-socket", str(tmp_path / f"gunicorn-{port}.ctl"),
            "--error-logfile", str(tmp_path / f"error-{port}.log"),
            "--access-logfile", str(tmp_path / f"access-{port}.log"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=60)
        yield f"http://127.0.0.1:{port}", env
    finally:
        stop_process(process)


@pytest.fixture
def debug_server(tmp_path):
    with gunicorn(tmp_path, DJANGO_SETTINGS_MODULE="project.settings_debug", LOG_TO_CONSOLE="0") as served:
        yield served


def assert_served_locally(base: str, urls: list[str]) -> None:
    assert urls, "the page references no assets"
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} would leave the machine"
        answer = requests.get(base + url, timeout=10)
        assert answer.status_code == 200, url
        assert len(answer.content) > 0, url


def test_the_admin_login_page_is_styled_and_in_english_by_default(debug_server):
    base, _ = debug_server
    page = requests.get(f"{base}/admin/login/", timeout=10)

    assert page.status_code == 200
    assert '<html lang="en"' in page.text
    assert "Log in" in page.text
    stylesheets = [url for url in asset_urls(page.text) if url.endswith(".css")]
    assert "/static/admin/css/base.css" in stylesheets
    assert_served_locally(base, stylesheets)
    assert requests.get(f"{base}/static/admin/css/base.css", timeout=10).headers["Content-Type"].startswith("text/css")


def test_make_admin_creates_the_first_login_and_it_opens_the_admin(debug_server):
    base, env = debug_server
    created = subprocess.run(
        ["make", "-s", "admin", "ADMIN_ARGS=--noinput"],
        cwd=PROJECT_ROOT,
        env={
            **env,
            "DJANGO_SUPERUSER_USERNAME": "first-admin",
            "DJANGO_SUPERUSER_EMAIL": "first-admin@example.com",
            "DJANGO_SUPERUSER_PASSWORD": FIRST_ADMIN_PASSWORD,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    browser = requests.Session()
    login_page = browser.get(f"{base}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    answer = browser.post(
        f"{base}/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token, "username": "first-admin", "password": FIRST_ADMIN_PASSWORD},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )

    assert answer.status_code == 200
    assert answer.url == f"{base}/admin/"
    assert "Site administration" in answer.text


def test_the_api_docs_load_only_files_served_by_the_service(debug_server):
    base, _ = debug_server
    page = requests.get(f"{base}/api/v1/docs", timeout=10)

    assert page.status_code == 200
    urls = asset_urls(page.text)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    assert_served_locally(base, urls)
    assert '"url": "/api/v1/openapi.json"' in page.text
    assert requests.get(f"{base}/api/v1/openapi.json", timeout=10).json()["info"]["title"] == "Mini-program API"


def test_outside_debug_the_admin_files_come_from_collectstatic(tmp_path):
    static_root = tmp_path / "static"
    collected = subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/python"), "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=PROJECT_ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="project.settings_test", STATIC_ROOT=static_root),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert collected.returncode == 0, collected.stderr
    with gunicorn(tmp_path, DJANGO_SETTINGS_MODULE="project.settings_test", STATIC_ROOT=static_root) as (base, _):
        css = requests.get(f"{base}/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.headers.get("Content-Encoding") == "gzip"
