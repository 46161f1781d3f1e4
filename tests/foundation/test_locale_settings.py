"""LANGUAGE_CODE and TIME_ZONE come from the environment: English and Asia/Shanghai unless set."""

import pytest

from tests.foundation.test_settings import STRONG, run_python

SHOW = "from django.conf import settings; print(settings.LANGUAGE_CODE, settings.TIME_ZONE)"


def test_english_and_shanghai_by_default(tmp_path):
    shown = run_python(SHOW, "project.settings_debug", tmp_path, LANGUAGE_CODE="", TIME_ZONE="")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["en", "Asia/Shanghai"]


def test_both_are_read_from_the_environment(tmp_path):
    shown = run_python(
        SHOW, "project.settings_test", tmp_path, SECRET_KEY=STRONG, LANGUAGE_CODE="zh-hans", TIME_ZONE="UTC"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["zh-hans", "UTC"]


@pytest.mark.parametrize(("name", "value"), [("LANGUAGE_CODE", "klingon"), ("TIME_ZONE", "Mars/Olympus_Mons")])
def test_a_value_it_cannot_use_stops_start_up_naming_the_variable(tmp_path, name, value):
    shown = run_python(SHOW, "project.settings_debug", tmp_path, **{name: value})
    assert shown.returncode != 0
    assert "ImproperlyConfigured" in shown.stderr
    assert name in shown.stderr


def test_the_admin_speaks_chinese_when_zh_hans_is_chosen(tmp_path):
    render = (
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/admin/login/').content.decode())"
    )
    shown = run_python(render, "project.settings_debug", tmp_path, LANGUAGE_CODE="zh-hans", DB_HOST="")
    assert shown.returncode == 0, shown.stderr
    assert '<html lang="zh-hans"' in shown.stdout
    assert "登录" in shown.stdout
