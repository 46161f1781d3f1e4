"""Reads, updates and inserts without the ORM's per-call query building answer and store what the ORM does."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.accounts.models import ApiToken, MiniProgram, WxUser
from corelib.db.row_read import first_where, insert, update_fields

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


def test_update_fields_writes_what_save_writes():
    app = MiniProgram.objects.create(appid="wxrowup", secret="s" * 32)
    user = WxUser.objects.create(mini_program=app, openid="o-up", session_key="old")
    moment = timezone.now()

    update_fields(user, session_key="new", unionid="u-1", updated_at=moment)

    stored = WxUser.objects.get(pk=user.pk)
    assert (stored.session_key, stored.unionid, stored.updated_at) == ("new", "u-1", moment)
    assert (user.session_key, user.unionid) == ("new", "u-1")
    assert WxUser.objects.filter(session_key="old").count() == 0


def test_insert_stores_the_row_save_would_and_gives_it_its_id():
    app = MiniProgram.objects.create(appid="wxrowin", secret="s" * 32)
    user = WxUser.objects.create(mini_program=app, openid="o-in")
    expires = timezone.now() + timedelta(days=1)

    token = insert(ApiToken(digest="d" * 64, user=user, expires_at=expires))

    stored = ApiToken.objects.get(pk=token.pk)
    assert (stored.digest, stored.user_id, stored.expires_at, stored.revoked_at) == ("d" * 64, user.pk, expires, None)
    assert stored.created_at == token.created_at and token.created_at is not None
    assert not token._state.adding
