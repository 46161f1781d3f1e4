"""On master the ORM runs no DDL on the business database; a DBA applies printed SQL.

Runs the real commands with settings_master against two fresh MariaDB databases
(standing in for production and the test environment's admin database).
"""

import os
import secrets
import subprocess
import uuid

import pymysql
import pytest

from tests.foundation.test_settings import MASTER_SECRETS
from tests.support import PROJECT_ROOT, PYTHON

HOST, PORT = "127.0.0.1", 3306


@pytest.fixture
def master_databases(tmp_path):
    suffix = uuid.uuid4().hex[:8]
    production, admin, user, password = (
        f"mp_{suffix}_prod",
        f"mp_{suffix}_prodadmin",
        f"mp_{suffix}",
        secrets.token_urlsafe(48),
    )
    root = pymysql.connect(host=HOST, port=PORT, user="root", password="", autocommit=True)
    with root.cursor() as cursor:
        for name in (production, admin):
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        cursor.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'")
        cursor.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}'")
        for name in (production, admin):
            cursor.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'127.0.0.1'")
            cursor.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'localhost'")
    env = {key: value for key, value in os.environ.items() if key not in MASTER_SECRETS}
    env.update(MASTER_SECRETS)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings_master",
        LOG_DIR=str(tmp_path / "logs"),
        ENV_FILE=str(tmp_path / "absent.env"),
        DB_NAME=production,
        DB_USER=user,
        DB_PASSWORD=password,
        ADMIN_DB_NAME=admin,
        ADMIN_DB_USER=user,
        ADMIN_DB_PASSWORD=password,
        DB_SSL_DISABLED="1",
    )
    yield {"env": env, "production": production, "admin": admin, "user": user, "password": password}
    with root.cursor() as cursor:
        for name in (production, admin):
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        cursor.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
    root.close()


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def tables(database: str) -> set[str]:
    connection = pymysql.connect(host=HOST, port=PORT, user="root", password="", database=database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        names = {row[0] for row in cursor.fetchall()}
    connection.close()
    return names


def test_migrate_on_master_leaves_the_business_database_alone(master_databases):
    env = master_databases["env"]
    result = manage(env, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    assert "managed by the DBA" in result.stdout
    assert tables(master_databases["production"]) == set()

    result = manage(env, "migrate_all", "--noinput")
    assert result.returncode == 0, result.stderr
    assert tables(master_databases["production"]) == set()
    assert {"auth_user", "django_session", "django_migrations"} <= tables(master_databases["admin"])
    assert not {name for name in tables(master_databases["admin"]) if name.startswith(("accounts_", "boards_"))}


def test_a_dba_applies_the_printed_sql_and_the_schema_check_then_passes(master_databases, tmp_path):
    env = master_databases["env"]
    lagging = manage(env, "schema_check")
    assert lagging.returncode != 0
    assert "lags the code" in lagging.stderr and "accounts.0001_initial" in lagging.stderr

    printed = manage(env, "schema_sql")
    assert printed.returncode == 0, printed.stderr
    assert "CREATE TABLE `accounts_miniprogram`" in printed.stdout
    sql_file = tmp_path / "pending.sql"
    sql_file.write_text(printed.stdout)

    # What the README tells a DBA to run.
    applied = subprocess.run(
        [
            "mysql",
            "-h",
            HOST,
            "-P",
            str(PORT),
            "-u",
            master_databases["user"],
            f"-p{master_databases['password']}",
            master_databases["production"],
        ],
        stdin=sql_file.open(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr

    passing = manage(env, "schema_check")
    assert passing.returncode == 0, passing.stderr
    assert "up to date" in passing.stdout
    assert {"accounts_miniprogram", "boards_message", "django_migrations"} <= tables(master_databases["production"])

    synced = manage(env, "sync_miniprograms")
    assert synced.returncode == 0, synced.stderr
    assert "created mini-program wx0000000000000001" in synced.stdout
