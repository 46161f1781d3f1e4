"""The jobs themselves: each is idempotent and does what its schedule promises."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.accounts.jobs import purge_expired_tokens, refresh_access_tokens
from apps.accounts.models import ApiToken, WxUser
from apps.boards.jobs import notify_reply, rollup_daily_stats
from apps.boards.models import BoardDailyStat, Like, Message
from corelib.wechat_tokens import cached_token
from tests.jobs.conftest import wechat_calls

pytestmark = pytest.mark.django_db(databases="__all__")


def test_the_daily_rollup_counts_yesterday_and_can_run_twice(people):
    board, author = people["board"], people["user"]
    other = WxUser.objects.create(mini_program=people["program"], openid="o-other")
    yesterday = timezone.now() - timedelta(days=1)
    first = Message.objects.create(board=board, author=author, content="m1")
    Message.objects.create(board=board, author=author, content="m2")
    Message.objects.create(board=board, author=other, content="r1", parent=first)
    Like.objects.create(message=first, user=other)
    Message.objects.update(created_at=yesterday)
    Like.objects.update(created_at=yesterday)
    Message.objects.create(board=board, author=author, content="today, not counted")
    day = timezone.localdate(yesterday).isoformat()

    rollup_daily_stats(day)
    rollup_daily_stats(day)

    stat = BoardDailyStat.objects.get()
    assert (stat.day.isoformat(), stat.messages, stat.replies, stat.likes, stat.active_users) == (day, 2, 1, 1, 2)


def test_purge_deletes_only_tokens_long_expired_or_revoked(people):
    now = timezone.now()
    user = people["user"]
    long_expired = ApiToken.objects.create(digest="a" * 64, user=user, expires_at=now - timedelta(days=8))
    just_expired = ApiToken.objects.create(digest="b" * 64, user=user, expires_at=now - timedelta(days=1))
    long_revoked = ApiToken.objects.create(
        digest="c" * 64, user=user, expires_at=now + timedelta(days=1), revoked_at=now - timedelta(days=10)
    )

    assert purge_expired_tokens() == 2

    remaining = set(ApiToken.objects.values_list("pk", flat=True))
    assert just_expired.pk in remaining
    assert long_expired.pk not in remaining and long_revoked.pk not in remaining


def test_access_tokens_are_refreshed_into_redis_only_when_due(people, wechat, settings):
    settings.WECHAT_API_BASE = wechat

    assert refresh_access_tokens() == 1
    assert refresh_access_tokens() == 0

    token, _ = cached_token(people["program"].appid)
    assert token
    assert len(wechat_calls(wechat, "/cgi-bin/stable_token")) == 1


def test_a_reply_notification_to_a_user_who_did_not_subscribe_is_not_an_error(people, wechat, settings):
    settings.WECHAT_API_BASE = wechat
    settings.WECHAT_REPLY_TEMPLATE_ID = "tmpl-reply"
    replier = WxUser.objects.create(mini_program=people["program"], openid="o-replier")
    parent = Message.objects.create(board=people["board"], author=people["user"], content="question")
    refused = Message.objects.create(board=people["board"], author=replier, content="answer", parent=parent)
    requests.post(f"{wechat}/__standin__/refusals", json={"openid": people["user"].openid}, timeout=5)

    assert notify_reply(refused.id) == "not-subscribed"
    assert notify_reply(refused.id) == "skipped"


def test_a_reply_notification_is_sent_once(people, wechat, settings):
    settings.WECHAT_API_BASE = wechat
    settings.WECHAT_REPLY_TEMPLATE_ID = "tmpl-reply"
    replier = WxUser.objects.create(mini_program=people["program"], openid="o-replier")
    parent = Message.objects.create(board=people["board"], author=people["user"], content="question")
    answer = Message.objects.create(board=people["board"], author=replier, content="answer", parent=parent)

    assert notify_reply(answer.id) == "sent"
    assert notify_reply(answer.id) == "skipped"
    sends = wechat_calls(wechat, "/cgi-bin/message/subscribe/send")
    assert len(sends) == 1 and sends[0]["body"]["touser"] == people["user"].openid
