"""Login gives its database connection back before it waits for WeChat.

A connection's pool slot is otherwise held from the request's first query to
its end. Held across jscode2session (seconds when WeChat is slow), eight logins
per worker took every slot, and everything else the worker served answered
503 database_busy.
"""

import pytest

from apps.accounts import services
from corelib.dbpool import pool_for
from tests.api.conftest import APP_A, log_in

# Not inside the test's wrapping transaction: a connection in a transaction must stay open, so
# only a transactional test sees what a real request does.
pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_no_database_connection_is_held_while_wechat_answers(standin, mini_programs, monkeypatch):
    slots_in_use = []
    ask_wechat = services.wechat.code_to_session

    def watched(*args, **kwargs):
        slots_in_use.append(pool_for("default").in_use)
        return ask_wechat(*args, **kwargs)

    monkeypatch.setattr(services.wechat, "code_to_session", watched)

    person = log_in(standin, APP_A[0])

    assert slots_in_use == [0]
    assert person.api.get("/api/v1/me").json()["id"] == person.user_id  # and the login went through
