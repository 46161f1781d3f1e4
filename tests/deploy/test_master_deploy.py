"""`fab deploy:master` end to end: a DBA owns the business schema, secrets are required, check --deploy.

One host (127.0.0.2, a path of its own) with every role, production settings,
a production database and an admin database of its own reached as a user with
a password. The DBA has applied the schema of revision A before the first deploy.
"""

from __future__ import annotations

import secrets
import uuid

import pymysql
import pytest

from tests.deploy.conftest import (
    Host,
    environment_toml,
    fab_environment,
    prepare_host,
    program,
    run_fab,
    service_settings,
    stop_host,
)
from tests.foundation.test_settings import MASTER_SECRETS
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(databases="__all__")]

CONF = "supervisord_master.conf"
PIDFILE = "pids/supervisord-master.pid"
MIGRATION = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("boards", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE TABLE boards_deploy_probe (id integer PRIMARY KEY)",
            reverse_sql="DROP TABLE boards_deploy_probe",
        )
    ]
"""


def root(database: str = ""):
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=database, autocommit=True)


def apply_sql(database: str, user: str, password: str, sql: bytes) -> None:
    """What the README tells the DBA to run: `mysql -h HOST -u USER -p DATABASE < pending.sql`."""
    import subprocess

    subprocess.run(
        [program("mysql"), "-h", "127.0.0.1", "-u", user, f"-p{password}", database],
        input=sql,
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def master(tmp_path_factory, sshd_servers, origin, seeded_venv, client_key, django_db_setup, django_db_blocker):
    """The master host, its databases (the business one with revision A's schema, applied as a DBA would)."""
    import subprocess

    suffix = uuid.uuid4().hex[:8]
    production, admin, user = f"mp_{suffix}_prod", f"mp_{suffix}_padmin", f"mp_{suffix}"
    password = secrets.token_urlsafe(48)  # production refuses a weak database password
    connection = root()
    with connection.cursor() as cursor:
        for name in (production, admin):
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        for where in ("127.0.0.1", "localhost"):
            cursor.execute(f"CREATE USER '{user}'@'{where}' IDENTIFIED BY '{password}'")
            for name in (production, admin):
                cursor.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'{where}'")
    base = tmp_path_factory.mktemp("master")
    server = sshd_servers[0]
    host = Host("app-1", server.address, server.port, base / "srv", ("web", "worker", "scheduler"), 1, free_port())
    settings = {
        **service_settings(django_db_blocker),
        **MASTER_SECRETS,
        "ALLOWED_HOSTS": f"api.example.com,{host.address}",
        "DB_NAME": production,
        "DB_USER": user,
        "DB_PASSWORD": password,
        "ADMIN_DB_NAME": admin,
        "ADMIN_DB_USER": user,
        "ADMIN_DB_PASSWORD": password,
        "GUNICORN_BIND": f"{host.address}:{host.web_port}",
        "GUNICORN_WORKERS": "2",
    }
    prepare_host(host, origin, seeded_venv, settings)
    # The DBA's first schema: revision A's `manage.py schema_sql`, run from a copy of it.
    printed = subprocess.run(
        [str(host.path / "shared" / seeded_venv[0] / "bin/python"), "manage.py", "schema_sql"],
        cwd=origin.path,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "project.settings_master", **settings}
        | {"LOG_DIR": str(base / "logs"), "ENV_FILE": str(base / "absent.env")},
        capture_output=True,
        check=True,
        timeout=120,
    )
    apply_sql(production, user, password, printed.stdout)
    config = base / "environments.toml"
    config.write_text(
        environment_toml("master", [host], client_key, dba_schema="true", check_deploy="true", keep_releases=3)
    )
    env = fab_environment(config, client_key, base / "backups")
    try:
        yield {"host": host, "env": env, "production": production, "user": user, "password": password}
    finally:
        stop_host(host, CONF, PIDFILE)
        with connection.cursor() as cursor:
            for name in (production, admin):
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            for where in ("127.0.0.1", "localhost"):
                cursor.execute(f"DROP USER IF EXISTS '{user}'@'{where}'")
        connection.close()


def test_a_pending_business_migration_stops_before_the_switch_until_the_dba_applies_it(master, origin):
    host, env = master["host"], master["env"]
    first = run_fab(env, "deploy:master")
    assert first.returncode == 0
    assert "manage.py check --deploy passes" in first.stdout
    assert "the business schema is up to date" in first.stdout
    live = host.live()

    revision = origin.commit(
        "a business migration", {"apps/boards/migrations/0002_deploy_probe.py": MIGRATION}, branch=f"schema-{live[-6:]}"
    )
    stopped = run_fab(env, "deploy", "--env", "master", "--revision", revision)
    assert stopped.returncode == 1
    assert "boards.0002_deploy_probe" in stopped.stdout
    assert "For the DBA: review" in stopped.stdout
    assert "preflight failed at 'schema' on 127.0.0.2: nothing was switched" in stopped.stderr
    assert "switch:" not in stopped.stdout
    assert host.live() == live
    pending = sorted((host.path / "shared/var/schema").glob(f"pending-*-{revision[:12]}.sql"))
    assert len(pending) == 1
    sql = pending[0].read_bytes()
    assert b"CREATE TABLE boards_deploy_probe" in sql

    apply_sql(master["production"], master["user"], master["password"], sql)
    through = run_fab(env, "deploy", "--env", "master", "--revision", revision)
    assert through.returncode == 0
    assert "the business schema is up to date" in through.stdout
    assert host.revision() == revision
    assert host.live() != live
