"""The router keeps Django's own tables on `admin` and business data on `default`."""

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.test import override_settings

from apps.accounts.models import MiniProgram
from apps.boards.models import Board
from corelib.router import AppsRouter

router = AppsRouter()
DJANGO_APPS = ["admin", "auth", "contenttypes", "sessions"]


@pytest.mark.parametrize("model", [User, ContentType, Session, apps.get_model("admin", "LogEntry")])
def test_it_reads_and_writes_django_tables_on_admin(model):
    assert router.db_for_read(model) == "admin"
    assert router.db_for_write(model) == "admin"


@pytest.mark.parametrize("model", [MiniProgram, Board])
def test_it_reads_and_writes_business_tables_on_default(model):
    assert router.db_for_read(model) == "default"
    assert router.db_for_write(model) == "default"


def test_it_allows_relations_within_a_database_only():
    assert router.allow_relation(User(), ContentType()) is True
    assert router.allow_relation(MiniProgram(), Board()) is True
    assert router.allow_relation(User(), MiniProgram()) is False


@pytest.mark.parametrize("app_label", DJANGO_APPS)
def test_it_migrates_django_apps_on_admin_only(app_label):
    assert router.allow_migrate("admin", app_label) is True
    assert router.allow_migrate("default", app_label) is False


@pytest.mark.parametrize("app_label", ["accounts", "boards"])
def test_it_migrates_business_apps_on_default_only(app_label):
    assert router.allow_migrate("default", app_label) is True
    assert router.allow_migrate("admin", app_label) is False


@override_settings(DBA_MANAGED_DATABASES=["default"])
@pytest.mark.parametrize("app_label", ["accounts", "boards", *DJANGO_APPS])
def test_on_master_it_runs_no_ddl_on_default(app_label):
    assert router.allow_migrate("default", app_label) is False


@override_settings(DBA_MANAGED_DATABASES=["default"])
@pytest.mark.parametrize("app_label", DJANGO_APPS)
def test_on_master_django_apps_still_migrate_on_admin(app_label):
    assert router.allow_migrate("admin", app_label) is True
