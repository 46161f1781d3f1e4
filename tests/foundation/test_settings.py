"""Each settings module imports; master fails fast on a missing secret; check --deploy is clean."""

import os
import subprocess

import pytest
from django.core.exceptions import ImproperlyConfigured

from corelib.env import env_bool, env_int, env_secret
from tests.support import PROJECT_ROOT, PYTHON

STRONG = "k" * 20 + "Z9y8X7w6V5u4T3s2R1q0P-o_n+m=l~" + "j" * 10
MASTER_SECRETS = {
    "SECRET_KEY": STRONG,
    "DB_PASSWORD": "business-" + STRONG,  # pragma: allowlist secret
    "ADMIN_DB_PASSWORD": "admin-" + STRONG,  # pragma: allowlist secret
    "WECHAT_MINIPROGRAMS": "wx0000000000000001:appsecret1",
    "SENTRY_DSN": "http://publickey@127.0.0.1:9/1",
    "ALLOWED_HOSTS": "api.example.com",
}


def run_python(code: str, settings: str, tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in MASTER_SECRETS}
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        LOG_DIR=str(tmp_path / "logs"),
        ENV_FILE=str(tmp_path / "absent.env"),
        PYTHONPATH=str(PROJECT_ROOT),
    )
    env.update(env_overrides)
    return subprocess.run([PYTHON, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("module", ["project.settings_debug", "project.settings_test", "project.settings_pytest"])
def test_it_imports_each_environment(module, tmp_path):
    result = run_python(
        "from django.conf import settings; print(settings.ENVIRONMENT, settings.DEBUG)",
        module,
        tmp_path,
        SECRET_KEY=STRONG,
    )
    assert result.returncode == 0, result.stderr
    environment, debug = result.stdout.split()
    assert environment == module.rsplit("_", 1)[1]
    assert debug == ("True" if module.endswith("debug") else "False")


def test_master_imports_with_a_complete_environment(tmp_path):
    result = run_python(
        "from django.conf import settings; print(settings.DEBUG)", "project.settings_master", tmp_path, **MASTER_SECRETS
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("missing", sorted(MASTER_SECRETS))
def test_master_refuses_to_start_without_each_secret(missing, tmp_path):
    env = {key: value for key, value in MASTER_SECRETS.items() if key != missing}
    result = run_python("from django.conf import settings; settings.DEBUG", "project.settings_master", tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def example_value(name: str) -> str:
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f"{name} is not in .env.example")


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SECRET_KEY", example_value("SECRET_KEY"), "placeholder"),
        ("SECRET_KEY", "Zq8-x" * 11, "randomness"),
        ("SECRET_KEY", STRONG[:49], "shorter than 50"),
        ("DB_PASSWORD", example_value("DB_PASSWORD"), "placeholder"),
        ("ADMIN_DB_PASSWORD", "short-but-not-a-placeholder", "shorter than 50"),
        ("WECHAT_MINIPROGRAMS", example_value("WECHAT_MINIPROGRAMS"), "placeholder"),
        ("WECHAT_MINIPROGRAMS", "wx1234567890abcdef:" + STRONG + ",wx0000000000000002:appsecret-two", "placeholder"),
        ("SENTRY_DSN", example_value("SENTRY_DSN"), "placeholder"),
        ("OPS_TOKEN", "ops", "shorter than 50"),
    ],
)
def test_master_refuses_a_placeholder_or_weak_secret_and_names_it(name, value, reason, tmp_path):
    env = {**MASTER_SECRETS, name: value}
    result = run_python("from django.conf import settings; settings.DEBUG", "project.settings_master", tmp_path, **env)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and name in last_line and reason in last_line, last_line
    assert value not in result.stderr  # the refusal does not print the secret


@pytest.mark.parametrize("value", [None, example_value("SECRET_KEY"), "too-short"])
def test_the_test_environment_refuses_a_missing_or_weak_secret_key(value, tmp_path):
    env = {} if value is None else {"SECRET_KEY": value}
    result = run_python("from django.conf import settings; settings.DEBUG", "project.settings_test", tmp_path, **env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.strip().splitlines()[-1]


def test_check_deploy_is_clean_for_master(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in MASTER_SECRETS}
    env.update(
        MASTER_SECRETS,
        DJANGO_SETTINGS_MODULE="project.settings_master",
        LOG_DIR=str(tmp_path),
        ENV_FILE=str(tmp_path / "absent.env"),
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_an_env_file_is_read_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / "project.env"
    env_file.write_text("LOG_LEVEL=WARNING\nCACHE_KEY_PREFIX=from-file\n")  # pragma: allowlist secret
    result = run_python(
        "from django.conf import settings; print(settings.LOG_LEVEL, settings.CACHE_KEY_PREFIX)",
        "project.settings_debug",
        tmp_path,
        ENV_FILE=str(env_file),
        CACHE_KEY_PREFIX="from-environment",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["WARNING", "from-environment"]


def test_it_names_a_malformed_value(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_an_empty_secret_counts_as_missing(monkeypatch):
    monkeypatch.setenv("SOME_SECRET", "  ")
    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET"):
        env_secret("SOME_SECRET")


def test_env_example_lists_every_variable_the_settings_read():
    import re

    read = set()
    for path in list((PROJECT_ROOT / "project").glob("settings*.py")) + [PROJECT_ROOT / "gunicorn.conf.py"]:
        text = path.read_text()
        read |= set(re.findall(r'env_(?:str|secret|bool|int|float|list)\(\s*"([A-Z0-9_]+)"', text))
        read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', text))
        for prefix in re.findall(r'mysql_alias\(\s*"([A-Z_]+)"', text):
            read |= {f"{prefix}_{suffix}" for suffix in ("HOST", "PORT", "NAME", "USER")}
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    # Set by Supervisor for its children, not by whoever configures the service.
    read.discard("SUPERVISOR_ENABLED")
    assert read - listed == set(), "variables read by the settings but missing from .env.example"


def test_the_readme_configuration_table_covers_env_example():
    import re

    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration") :]
    table = table[: table.index("\n## ", 4)]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert listed - documented == set(), "in .env.example but not in the README's configuration table"
    assert documented - listed == set(), "in the README's configuration table but not in .env.example"
