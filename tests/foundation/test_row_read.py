"""A lookup on a unique key with its SQL compiled once answers the instance the ORM's `.first()` answers."""

import pytest
from django.contrib.auth.models import User

from apps.accounts.models import MiniProgram, WxUser
from corelib.db.row_read import first_where

pytestmark = pytest.mark.django_db(databases="__all__")


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_it_answers_the_instance_the_orm_answers():
    app = MiniProgram.objects.create(appid="wxrow", secret="s" * 32, name="Row")
    user = WxUser.objects.create(mini_program=app, openid="o-row", unionid="u-row", nickname="昵称 👋")

    found = first_where(WxUser, mini_program_id=app.id, openid="o-row")

    assert field_values(found) == field_values(WxUser.objects.filter(mini_program=app, openid="o-row").first())
    assert found.pk == user.pk and found.created_at.tzinfo is not None
    assert not found._state.adding and found._state.db == "default"


def test_each_call_uses_its_own_values():
    apps = [MiniProgram.objects.create(appid=f"wxrow{n}", secret="s" * 32, is_active=n == 1) for n in (1, 2)]

    assert first_where(MiniProgram, appid="wxrow1", is_active=True) == apps[0]
    assert first_where(MiniProgram, appid="wxrow2", is_active=True) is None
    assert first_where(MiniProgram, appid="wxrow2", is_active=False) == apps[1]


def test_it_answers_none_when_nothing_matches():
    assert first_where(MiniProgram, appid="wx-none", is_active=True) is None


def test_it_reads_from_the_database_the_router_names():
    User.objects.create(username="row-admin")

    assert first_where(User, username="row-admin").username == "row-admin"


def test_it_refuses_a_value_django_would_convert():
    app = MiniProgram.objects.create(appid="wxrowfk", secret="s" * 32)

    with pytest.raises(TypeError):
        first_where(WxUser, mini_program=app, openid="o-row")
