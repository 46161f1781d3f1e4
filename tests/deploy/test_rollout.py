"""`fab deploy:test` over three hosts behind nginx, with a load running through it.

web-1 and web-2 run Gunicorn (two workers each) behind nginx; back-1 runs two
RQ workers and the scheduler. The module's fixture deploys revision A once;
each test starts from whatever release is live and commits its own revision
(broken ones on a branch of their own, so main stays deployable).
"""

from __future__ import annotations

import getpass
import gzip
import os
import socket
import subprocess
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.deploy.conftest import (
    Host,
    Origin,
    environment_toml,
    fab_environment,
    prepare_host,
    program,
    run_fab,
    service_settings,
    stop_host,
)
from tests.runtime.stack import Load, enqueue_sleep_jobs, wait_jobs_finished
from tests.support import PROJECT_ROOT, PYTHON, free_port, stop_process, wait_for_port

# The mark makes pytest-django create this run's databases, which the hosts use; the tests
# themselves only talk to the hosts (no transaction=True: nothing to flush between them).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__")]

CONF = "supervisord_test.conf"
# Enough to catch a refused or broken request at any moment, light enough to leave the deploy a core.
LOAD_THREADS = 2
PIDFILE = "pids/supervisord-test.pid"


@dataclass
class Cluster:
    hosts: list[Host]
    origin: Origin
    env: dict
    lb_url: str
    settings: dict

    @property
    def redis_url(self) -> str:
        return self.settings["REDIS_URL"]

    @property
    def web(self) -> list[Host]:
        return [host for host in self.hosts if "web" in host.roles]

    def fab(self, *args: str, **overrides: str) -> subprocess.CompletedProcess:
        return run_fab(self.env, *args, **overrides)

    def live(self) -> dict[str, str]:
        return {host.name: host.live() for host in self.hosts}

    def served(self) -> dict[str, str]:
        """The revision each web host's Gunicorn answers with."""
        return {host.name: requests.get(f"{host.url}/api/version", timeout=10).json()["revision"] for host in self.web}

    def job_results(self, function: str, *args, count: int = 4) -> set:
        """What the RQ workers return for `function(*args)`: run in their own, current processes."""
        from redis import Redis
        from rq import Queue
        from rq.job import Job

        connection = Redis.from_url(self.redis_url)
        ids = [Queue("high", connection=connection).enqueue(function, *args, result_ttl=600).id for _ in range(count)]
        statuses = wait_jobs_finished(self.redis_url, ids, timeout=60)
        assert set(statuses.values()) == {"finished"}, statuses
        return {Job.fetch(job_id, connection=connection).return_value() for job_id in ids}


def start_load_balancer(folder: Path, web: list[Host]) -> tuple[subprocess.Popen, str]:
    """nginx from deploy/nginx.conf.template, one upstream server per web host."""
    folder.mkdir()
    port = free_port()
    site = subprocess.run(
        [PYTHON, str(PROJECT_ROOT / "deploy/render_nginx.py"), f"--listen=127.0.0.1:{port}", "--server-name=localhost"]
        + [f"--upstream={host.address}:{host.web_port}" for host in web]
        + [f"--static-root={folder}/static"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    (folder / "site.conf").write_text(site)
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / temp).mkdir()
    (folder / "nginx.conf").write_text(
        textwrap.dedent(f"""\
            user root;
            worker_processes 1;
            pid {folder}/nginx.pid;
            error_log {folder}/error.log;
            events {{ worker_connections 512; }}
            http {{
                access_log {folder}/access.log;
                client_body_temp_path {folder}/body;
                proxy_temp_path {folder}/proxy;
                fastcgi_temp_path {folder}/fastcgi;
                uwsgi_temp_path {folder}/uwsgi;
                scgi_temp_path {folder}/scgi;
                include {folder}/site.conf;
            }}
            """)
    )
    process = subprocess.Popen(
        [program("nginx"), "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(folder / "nginx.conf")]
        + ["-g", "daemon off;"]
    )
    wait_for_port(port, timeout=15)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, sshd_servers, origin, seeded_venv, client_key, django_db_setup, django_db_blocker):
    """Three prepared hosts with revision A deployed, and nginx in front of the two web hosts."""
    base = tmp_path_factory.mktemp("cluster")
    layout = (("web-1", ("web",), 0), ("web-2", ("web",), 0), ("back-1", ("worker", "scheduler"), 2))
    hosts = [
        Host(name, server.address, server.port, base / name / "srv", roles, workers, free_port())
        for (name, roles, workers), server in zip(layout, sshd_servers, strict=True)
    ]
    settings = service_settings(django_db_blocker)
    for host in hosts:
        own = {"HOST_NAME": host.name, "GUNICORN_BIND": f"{host.address}:{host.web_port}", "GUNICORN_WORKERS": "2"}
        prepare_host(host, origin, seeded_venv, {**settings, **own})
    # All three live on this machine: each host's entry names its own path.
    config = base / "environments.toml"
    config.write_text(environment_toml("test", hosts, client_key, keep_releases=3))
    env = fab_environment(config, client_key, base / "backups")
    balancer, lb_url = start_load_balancer(base / "nginx", [host for host in hosts if "web" in host.roles])
    cluster = Cluster(hosts, origin, env, lb_url, settings)
    try:
        first = cluster.fab("deploy:test")
        assert first.returncode == 0, "the first deploy failed"
        yield cluster
    finally:
        stop_process(balancer)
        for host in hosts:
            stop_host(host, CONF, PIDFILE)


def assert_on_release(cluster: Cluster, revision: str) -> None:
    """Every host live on `revision`: web hosts serve it, the workers run it, one scheduler."""
    assert {host.name: host.revision() for host in cluster.hosts} == {host.name: revision for host in cluster.hosts}
    assert set(cluster.served().values()) == {revision}
    assert cluster.job_results("corelib.revision.current_revision") == {revision}
    programs = {host.name: sorted(host.programs(CONF)) for host in cluster.hosts}
    assert programs["web-1"] == programs["web-2"] == ["miniprogram:gunicorn"]
    schedulers = [name for name, names in programs.items() if "miniprogram:rqscheduler" in names]
    assert schedulers == ["back-1"]
    assert sorted(programs["back-1"]) == [
        "miniprogram:rqforkserver",
        "miniprogram:rqscheduler",
        "miniprogram:rqworker_00",
        "miniprogram:rqworker_01",
    ]


def report(case: str, result, load: Load) -> None:
    print(
        f"\n{case}: fab exit {result.returncode} in {result.seconds:.1f}s; through nginx {load.result.total} requests, "
        f"{len(load.result.failures)} failure kinds {load.result.failures[:3]}, statuses {dict(load.result.statuses)}, "
        f"slowest {load.result.slowest:.2f}s"
    )


def test_a_code_only_deploy_loses_no_request_and_no_job(cluster):
    before = cluster.live()
    revision = cluster.origin.commit("code only", {"deploy/NOTE": f"{uuid.uuid4()}\n"})
    jobs = enqueue_sleep_jobs(cluster.redis_url, 6, 1.0)
    with Load(f"{cluster.lb_url}/api/version", threads=LOAD_THREADS) as load:
        jobs += enqueue_sleep_jobs(cluster.redis_url, 6, 1.0)
        result = cluster.fab("deploy:test")
        jobs += enqueue_sleep_jobs(cluster.redis_url, 6, 1.0)
    report("code-only deploy", result, load)
    assert result.returncode == 0
    assert "requirements.lock unchanged: reusing" in result.stdout
    assert result.stdout.count("signal HUP miniprogram:gunicorn (code only)") == 2
    assert "USR2" not in result.stdout
    assert load.result.failures == []
    assert load.result.total > 0
    statuses = wait_jobs_finished(cluster.redis_url, jobs, timeout=120)
    assert set(statuses.values()) == {"finished"}, statuses
    assert_on_release(cluster, revision)
    # Web hosts went first, one at a time; the scheduler's host last.
    order = [line.split()[2].rstrip("]") for line in result.stdout.splitlines() if "switch: current ->" in line]
    assert order == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    after = cluster.live()
    assert all(after[name] != before[name] for name in after)
    assert all(len(host.releases()) <= 3 for host in cluster.hosts)  # keep_releases = 3


# Appended to corelib/health.py by the lock-change revision: the web workers import the new package.
PROBE_PACKAGE = "itsdangerous==2.2.0"
VERSION_WITH_PROBE = """

_version_without_probe = version


def version(request):
    import importlib.metadata

    import itsdangerous  # noqa: F401 - importable only from the new venv

    response = _version_without_probe(request)
    response["X-Probe-Package"] = importlib.metadata.version("itsdangerous")
    return response
"""


def gunicorn_pid(host: Host) -> str:
    from tests.runtime.stack import supervisorctl

    return supervisorctl(host.path / "current", CONF, "pid", "miniprogram:gunicorn", env=dict(os.environ)).strip()


def test_a_lock_file_change_builds_a_venv_and_re_execs_gunicorn_in_place(cluster):
    origin = cluster.origin
    requirements = origin.read("requirements.txt")
    if PROBE_PACKAGE not in requirements:
        (origin.path / "requirements.txt").write_text(requirements + PROBE_PACKAGE + "\n")
    # What `make lock` runs.
    subprocess.run(
        [str(PROJECT_ROOT / ".venv/bin/uv"), "pip", "compile", "--quiet", "--generate-hashes"]
        + ["--python-version", "3.11", "--custom-compile-command", "make lock"]
        + ["--output-file", "requirements.lock", "requirements.txt"],
        cwd=origin.path,
        check=True,
        timeout=120,
    )
    assert "itsdangerous==2.2.0 \\\n    --hash=sha256:" in origin.read("requirements.lock")
    revision = origin.commit(
        "a new package", {"corelib/health.py": origin.read("corelib/health.py") + VERSION_WITH_PROBE}
    )
    pids = {host.name: gunicorn_pid(host) for host in cluster.web}
    jobs = enqueue_sleep_jobs(cluster.redis_url, 6, 1.0)
    with Load(f"{cluster.lb_url}/api/version", threads=LOAD_THREADS) as load:
        result = cluster.fab("deploy:test")
        jobs += enqueue_sleep_jobs(cluster.redis_url, 6, 1.0)
    report("lock-change deploy", result, load)
    assert result.returncode == 0
    assert result.stdout.count("built shared/venvs/") == 3
    assert "from requirements.lock with uv" in result.stdout  # the live release's uv, not pip
    assert result.stdout.count("signal USR2 miniprogram:gunicorn") == 2
    assert load.result.failures == []
    statuses = wait_jobs_finished(cluster.redis_url, jobs, timeout=120)
    assert set(statuses.values()) == {"finished"}, statuses
    assert_on_release(cluster, revision)
    for host in cluster.web:
        answer = requests.get(f"{host.url}/api/version", timeout=10)
        assert answer.headers["X-Probe-Package"] == "2.2.0"
    assert cluster.job_results("importlib.metadata.version", "itsdangerous") == {"2.2.0"}
    # Re-exec'd in place: Supervisor still tracks the same master.
    assert {host.name: gunicorn_pid(host) for host in cluster.web} == pids


FAILS_CHECK_ON_WEB_2 = """

import os as _os  # noqa: E402

from django.core.exceptions import ImproperlyConfigured as _ImproperlyConfigured  # noqa: E402

if _os.environ.get("HOST_NAME") == "web-2":
    raise _ImproperlyConfigured("FEATURE_URL is required and web-2's .env lacks it")
"""


def release_dirs_of(cluster: Cluster, revision: str) -> list[str]:
    return [f"{host.name}/{name}" for host in cluster.hosts for name in host.releases() if name.endswith(revision[:12])]


def test_a_revision_failing_preflight_on_the_second_host_switches_nothing(cluster):
    before, served = cluster.live(), cluster.served()
    origin = cluster.origin
    revision = origin.commit(
        "needs a setting web-2 lacks",
        {"project/settings_test.py": origin.read("project/settings_test.py") + FAILS_CHECK_ON_WEB_2},
        branch=f"broken-{uuid.uuid4().hex[:6]}",
    )
    with Load(f"{cluster.lb_url}/api/version", threads=LOAD_THREADS) as load:
        result = cluster.fab("deploy", "--env", "test", "--revision", revision)
    report("failing preflight on the second host", result, load)
    assert result.returncode == 1
    assert "[test 1/3 127.0.0.2] preflight: release" in result.stdout
    assert "FEATURE_URL is required and web-2's .env lacks it" in result.stdout
    assert "preflight failed at 'check' on 127.0.0.3: nothing was switched on any host" in result.stderr
    assert "switch:" not in result.stdout
    assert cluster.live() == before
    assert cluster.served() == served
    assert release_dirs_of(cluster, revision) == []
    assert load.result.failures == []


NOT_READY_ON_WEB_2 = """

_ready_before_probe = ready


def ready(request):
    import os

    if os.environ.get("HOST_NAME") == "web-2":
        return JsonResponse({"status": "unavailable", "down": {"feature": "web-2 cannot reach it"}}, status=503)
    return _ready_before_probe(request)
"""


def test_a_revision_that_boots_but_is_not_ready_is_switched_back_everywhere(cluster):
    before, served = cluster.live(), cluster.served()
    origin = cluster.origin
    revision = origin.commit(
        "not ready on web-2",
        {"corelib/health.py": origin.read("corelib/health.py") + NOT_READY_ON_WEB_2},
        branch=f"unready-{uuid.uuid4().hex[:6]}",
    )
    with Load(f"{cluster.lb_url}/api/version", threads=LOAD_THREADS) as load:
        result = cluster.fab("deploy", "--env", "test", "--revision", revision, DEPLOY_TEST_READY_TIMEOUT="30")
    report("boots but not ready on web-2", result, load)
    assert result.returncode == 1
    assert "[test 1/3 127.0.0.2] ready: ready:" in result.stdout  # web-1 came up on it...
    assert f"[test 1/3 127.0.0.2] switch back: to releases/{before['web-1']}" in result.stdout  # ...and went back
    assert f"[test 2/3 127.0.0.3] switch back: to releases/{before['web-2']}" in result.stdout
    assert "[test 3/3 127.0.0.4] switch:" not in result.stdout
    assert "127.0.0.3 did not become ready" in result.stderr
    assert "every switched host is back" in result.stderr
    assert cluster.live() == before
    assert cluster.served() == served
    assert release_dirs_of(cluster, revision) == []
    assert load.result.failures == []


def test_a_second_deploy_while_one_runs_is_refused_naming_the_first(cluster):
    revision = cluster.origin.commit("deployed once", {"deploy/NOTE": f"{uuid.uuid4()}\n"})
    lock = cluster.hosts[0].path / "shared" / "deploy.lock"
    first = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv/bin/fab"), "deploy:test"],
        cwd=PROJECT_ROOT,
        env=cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not lock.exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert lock.exists(), "the first deploy never took the lock"
        second = cluster.fab("deploy:test")
        output, _ = first.communicate(timeout=400)
    finally:
        if first.poll() is None:
            first.kill()
    print(output)
    assert second.returncode == 3
    holder = f"{getpass.getuser()}@{socket.gethostname()}"
    assert f"another deploy holds the lock: {holder} since" in second.stderr
    assert "(deploy:main)" in second.stderr
    assert "switch:" not in second.stdout
    assert first.returncode == 0
    assert {host.revision() for host in cluster.hosts} == {revision}
    assert not lock.exists()


def test_unlock_breaks_the_lock_of_a_dead_deploy(cluster):
    lock = cluster.hosts[0].path / "shared" / "deploy.lock"
    lock.write_text(f"{time.time():.0f} someone@laptop deploy:main 0123abcd\n")
    refused = cluster.fab("deploy:test")
    assert refused.returncode == 3
    assert "another deploy holds the lock: someone@laptop since" in refused.stderr
    assert "fab unlock:test" in refused.stderr
    unlocked = cluster.fab("unlock:test")
    assert unlocked.returncode == 0
    assert "removed the lock of someone@laptop since" in unlocked.stdout
    assert not lock.exists()


def test_a_stale_lock_is_taken_over_and_says_whose_it_was(cluster):
    lock = cluster.hosts[0].path / "shared" / "deploy.lock"
    lock.write_text(f"{time.time() - 7200:.0f} someone@laptop deploy:main 0123abcd\n")
    # A ref that does not exist: the run stops right after taking the lock, touching nothing.
    result = cluster.fab("deploy", "--env", "test", "--revision", "no-such-branch", DEPLOY_TEST_LOCK_TIMEOUT="3600")
    assert "stale lock of someone@laptop since" in result.stdout
    assert "taking it over" in result.stdout
    assert result.returncode == 1
    assert "cannot resolve 'no-such-branch'" in result.stderr
    assert not lock.exists()  # released by the run that took it over


def test_status_names_each_hosts_live_release_and_programs(cluster):
    result = cluster.fab("status:test")
    assert result.returncode == 0
    for host in cluster.hosts:
        assert f"{host.address}] live: {host.live()} ({host.address}:{host.ssh_port} (" in result.stdout
    assert result.stdout.count("miniprogram:gunicorn") == 2
    assert result.stdout.count("miniprogram:rqscheduler") == 1
    assert result.stdout.count("miniprogram:rqforkserver") == 1  # the worker host's two RQ workers' parent
    assert result.stdout.count("RUNNING") == 6


def test_rollback_switches_every_host_back_in_one_step(cluster):
    before, served = cluster.live(), cluster.served()
    previous_revision = cluster.hosts[0].revision()
    revision = cluster.origin.commit("to be rolled back", {"deploy/NOTE": f"{uuid.uuid4()}\n"})
    assert cluster.fab("deploy:test").returncode == 0
    assert {host.revision() for host in cluster.hosts} == {revision}
    with Load(f"{cluster.lb_url}/api/version", threads=LOAD_THREADS) as load:
        result = cluster.fab("rollback:test")
    report("rollback", result, load)
    assert result.returncode == 0
    assert "build" not in result.stdout and "venv:" not in result.stdout  # a switch, not a rebuild
    assert cluster.live() == before
    assert cluster.served() == served
    assert_on_release(cluster, previous_revision)
    assert load.result.failures == []
    listing = cluster.fab("releases:test")
    assert listing.returncode == 0
    live_lines = [line for line in listing.stdout.splitlines() if line.startswith("  * ")]
    assert [line.split()[1] for line in live_lines] == [before[host.name] for host in cluster.hosts]
    assert all(previous_revision in line for line in live_lines)
    assert f"  {cluster.hosts[0].releases()[-1]}  {revision}" in listing.stdout  # the rolled-back one is kept


def mysql(database: str = ""):
    import pymysql

    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database, autocommit=True)


def test_backup_leaves_secrets_out_and_restores_into_an_empty_database(cluster):
    database = cluster.settings["DB_NAME"]
    restored = f"{database}_restore"
    appid, openid = f"wxbk{uuid.uuid4().hex[:12]}", f"o-{uuid.uuid4().hex[:10]}"
    source = mysql(database)
    try:
        with source.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_miniprogram (appid, name, secret, is_active, created_at) "
                "VALUES (%s, 'Backup test', 'app-secret-not-to-leak', 1, NOW(6))",
                (appid,),
            )
            cursor.execute(
                "INSERT INTO accounts_wxuser (mini_program_id, openid, unionid, session_key, nickname, avatar_url,"
                " created_at, updated_at) SELECT id, %s, '', 'session-key-not-to-leak', 'Bob 👋', '', NOW(6), NOW(6)"
                " FROM accounts_miniprogram WHERE appid = %s",
                (openid, appid),
            )
        result = cluster.fab("backup:test")
        assert result.returncode == 0
        assert "left out (blank): accounts_wxuser.session_key, accounts_miniprogram.secret" in result.stdout
        dump = max((Path(cluster.env["DEPLOY_BACKUP_DIR"]) / "test").glob("test-*.sql.gz"))
        text = gzip.decompress(dump.read_bytes()).decode()
        assert "session-key-not-to-leak" not in text and "app-secret-not-to-leak" not in text
        assert openid in text and "-- Dump completed" in text
        # The README's restore (`gunzip -c DUMP | mysql DATABASE`) into an empty database.
        with source.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{restored}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        subprocess.run(
            [program("mysql"), "-h", "127.0.0.1", "-u", "root", restored],
            input=gzip.decompress(dump.read_bytes()),
            check=True,
            timeout=120,
        )
        copy = mysql(restored)
        with copy.cursor() as cursor:
            cursor.execute(
                "SELECT u.session_key, u.nickname, m.secret FROM accounts_wxuser u "
                "JOIN accounts_miniprogram m ON m.id = u.mini_program_id WHERE u.openid = %s",
                (openid,),
            )
            assert cursor.fetchall() == (("", "Bob 👋", ""),)
        for table in ("accounts_wxuser", "accounts_miniprogram", "django_migrations"):
            counts = []
            for connection in (source, copy):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT COUNT(*) FROM " + table)  # noqa: S608 - a fixed table name
                    counts.append(cursor.fetchone()[0])
            assert counts[0] == counts[1], table
        copy.close()
    finally:
        with source.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{restored}`")
            cursor.execute(
                "DELETE u FROM accounts_wxuser u JOIN accounts_miniprogram m ON m.id = u.mini_program_id "
                "WHERE m.appid = %s",
                (appid,),
            )
            cursor.execute("DELETE FROM accounts_miniprogram WHERE appid = %s", (appid,))
        source.close()
