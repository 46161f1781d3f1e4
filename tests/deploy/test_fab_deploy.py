"""`fab deploy:test` end to end, over a real sshd, against a running stack.

One host, one story, in order: first deploy (starts Supervisor), revision B under
load, a broken revision C stopped by the check, a revision D that passes the
check but cannot boot (rolled back on that host), `fab rollback:test`, status
and backup. The tests share the module's host and run in file order.
"""

import gzip
import time

import pytest
import requests

from tests.deploy.conftest import fab, git
from tests.runtime.stack import Load, enqueue_sleep_jobs, wait_all_running, wait_jobs_finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__", transaction=True)]

revisions: dict[str, str] = {}


def served_revision(host: dict) -> str:
    response = requests.get(f"{host['url']}/api/version", timeout=10)
    assert response.status_code == 200
    return response.json()["revision"]


def host_head(host: dict) -> str:
    return git(host["app"], "rev-parse", "HEAD")


def test_first_deploy_starts_supervisor_and_serves_revision_a(host, origin):
    revisions["A"] = git(origin.path, "rev-parse", "HEAD")
    started = time.monotonic()
    result = fab(host, "deploy:test")
    assert result.returncode == 0
    for step in ("fetch:", "requirements:", "check:", "checkout:", "migrate:", "collectstatic:", "reload:", "ready:"):
        assert step in result.stdout
    assert "Supervisor was not running: started it" in result.stdout
    assert served_revision(host) == revisions["A"]
    assert requests.get(f"{host['url']}/api/ready", timeout=10).status_code == 200
    print(f"first deploy took {time.monotonic() - started:.1f}s")


def test_deploying_b_under_load_loses_no_request_and_no_job(host, origin):
    revisions["B"] = origin.commit("revision B", {"deploy/REVISION_NOTE": "B\n"})
    jobs = enqueue_sleep_jobs(host["redis_url"], 6, 1.0)
    started = time.monotonic()
    with Load(f"{host['url']}/api/version", threads=4) as load:
        time.sleep(1)
        jobs += enqueue_sleep_jobs(host["redis_url"], 6, 1.0)
        result = fab(host, "deploy:test")
        jobs += enqueue_sleep_jobs(host["redis_url"], 6, 1.0)
        time.sleep(1)
    took = time.monotonic() - started
    print(
        f"deploy of B under load: {took:.1f}s, {load.result.total} requests, {dict(load.result.statuses)}, "
        f"revisions seen {dict(load.result.revisions)}, slowest {load.result.slowest:.1f}s"
    )
    assert result.returncode == 0
    assert "signal HUP all sent" in result.stdout
    assert load.result.failures == []
    assert set(load.result.revisions) == {revisions["A"], revisions["B"]}
    assert served_revision(host) == revisions["B"]
    statuses = wait_jobs_finished(host["redis_url"], jobs, timeout=120)
    assert set(statuses.values()) == {"finished"}, statuses


def test_a_revision_failing_the_check_is_not_deployed(host, origin):
    settings = origin.read("project/settings_test.py")
    origin.commit("revision C: broken settings", {"project/settings_test.py": settings + "\nimport no_such_module\n"})
    with Load(f"{host['url']}/api/version", threads=2) as load:
        result = fab(host, "deploy:test")
    assert result.returncode != 0
    assert "check: FAILED" in result.stdout
    assert "no_such_module" in result.stdout
    assert "reload:" not in result.stdout
    assert host_head(host) == revisions["B"]
    assert load.result.failures == []
    assert set(load.result.revisions) == {revisions["B"]}
    assert requests.get(f"{host['url']}/api/ready", timeout=10).status_code == 200


def test_a_revision_that_cannot_boot_is_rolled_back_on_the_host(host, origin):
    # Passes `manage.py check` (which never imports the WSGI module) but no worker can boot.
    wsgi = origin.read("project/wsgi.py")
    settings = git(origin.path, "show", f"{revisions['B']}:project/settings_test.py")
    origin.commit(
        "revision D: the WSGI module fails",
        {"project/settings_test.py": settings, "project/wsgi.py": wsgi + "\nraise RuntimeError('cannot boot')\n"},
    )
    result = fab(host, "deploy:test", DEPLOY_TEST_READY_TIMEOUT="20")
    assert result.returncode != 0
    assert "back to " + revisions["B"][:12] in result.stdout
    assert "host serves it again" in result.stdout
    assert host_head(host) == revisions["B"]
    assert served_revision(host) == revisions["B"]


def test_rollback_returns_to_the_previous_revision(host):
    result = fab(host, "rollback:test")
    assert result.returncode == 0
    assert host_head(host) == revisions["A"]
    assert served_revision(host) == revisions["A"]


def test_status_names_the_revision_and_the_programs(host):
    wait_all_running(host["app"], "supervisord_test.conf", host["env"], count=12, timeout=90)
    result = fab(host, "status:test")
    assert result.returncode == 0
    assert revisions["A"] in result.stdout
    assert result.stdout.count("RUNNING") == 12


def test_deploy_with_the_env_option_works_too(host):
    result = fab(host, "deploy", "--env", "test", "--revision", revisions["B"])
    assert result.returncode == 0
    assert served_revision(host) == revisions["B"]


def test_backup_fetches_a_compressed_consistent_dump(host):
    result = fab(host, "backup:test")
    assert result.returncode == 0
    dumps = list((host["app"].parent / "backups" / "test").glob("test-*.sql.gz"))
    assert len(dumps) == 1
    text = gzip.decompress(dumps[0].read_bytes()).decode()
    assert "CREATE TABLE `accounts_miniprogram`" in text
    assert "-- Dump completed" in text
