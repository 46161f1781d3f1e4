"""A primary-key read with its SQL compiled once answers what the ORM's `.values()` answers."""

import pytest
from django.contrib.auth.models import User

from apps.accounts.models import MiniProgram
from corelib.db.pk_read import values_by_pk

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_answers_the_same_columns_and_types_as_values():
    app = MiniProgram.objects.create(appid="wxpk", secret="s" * 32, name="Pk", is_active=False)
    fields = ("id", "appid", "name", "is_active", "created_at")

    expected = MiniProgram.objects.filter(pk=app.pk).values(*fields).first()

    assert values_by_pk(MiniProgram, app.pk, *fields) == expected
    assert values_by_pk(MiniProgram, app.pk, *fields)["is_active"] is False


def test_it_reads_each_row_by_its_own_key():
    first, second = (MiniProgram.objects.create(appid=f"wxpk{n}", secret="s" * 32, name=f"n{n}") for n in (1, 2))

    assert values_by_pk(MiniProgram, first.pk, "appid") == {"appid": "wxpk1"}
    assert values_by_pk(MiniProgram, second.pk, "appid") == {"appid": "wxpk2"}


def test_it_answers_none_for_a_missing_row():
    assert values_by_pk(MiniProgram, 987654321, "id") is None


def test_it_reads_from_the_database_the_router_names():
    user = User.objects.create(username="pk-admin")

    assert values_by_pk(User, user.pk, "username") == {"username": "pk-admin"}
