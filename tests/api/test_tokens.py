"""Our own API tokens: required, checked from the cache, expiring, revoked at once by logout."""

from datetime import timedelta

import pytest

from apps.accounts.models import ApiToken, WxUser
from apps.accounts.services import issue_token
from tests.api.conftest import Api, error_of

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_requires_a_token(mini_programs):
    response = Api().get("/api/v1/me")

    assert response.status_code == 401
    assert error_of(response)["field"] == "token"


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"])
def test_it_rejects_a_wrong_token(mini_programs, header):
    response = Api().get("/api/v1/me", headers={"authorization": header})

    assert response.status_code == 401
    assert error_of(response)["field"] == "token"


def test_it_rejects_an_expired_token(alice):
    user = WxUser.objects.get(id=alice.user_id)
    raw, _ = issue_token(user, ttl=timedelta(seconds=-1))

    response = Api(raw).get("/api/v1/me")

    assert response.status_code == 401
    assert error_of(response)["code"] == "token_expired"


def test_logout_revokes_the_token_at_once(alice):
    assert alice.api.get("/api/v1/me").status_code == 200  # now cached in Redis

    assert alice.api.post("/api/v1/auth/logout").status_code == 204
    response = alice.api.get("/api/v1/me")

    assert response.status_code == 401
    assert error_of(response)["code"] == "token_revoked"
    assert ApiToken.objects.get(user_id=alice.user_id).revoked_at is not None


def test_a_revoked_token_stays_revoked_when_the_cache_is_empty(alice):
    from django.core.cache import cache

    alice.api.post("/api/v1/auth/logout")
    cache.delete_pattern("tok:*")

    assert error_of(alice.api.get("/api/v1/me"))["code"] == "token_revoked"


def test_logout_leaves_other_tokens_of_the_user_alone(alice):
    other, _ = issue_token(WxUser.objects.get(id=alice.user_id))

    alice.api.post("/api/v1/auth/logout")

    assert Api(other).get("/api/v1/me").status_code == 200


def test_a_cached_token_check_costs_no_query(alice, django_assert_num_queries):
    alice.api.get("/api/v1/boards/999999")  # warm the token cache

    with django_assert_num_queries(0, using="admin"), django_assert_num_queries(0, using="default"):
        from apps.accounts.services import authenticate

        assert authenticate(alice.api.token).id == alice.user_id
