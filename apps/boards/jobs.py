"""Background jobs of the boards: moderation, reply notifications, daily statistics.

Each job is idempotent (running it twice changes nothing more) and declares
its queue, timeout and retries with @job_policy. Jobs that call WeChat retry
with backoff when WeChat fails; the last failure reaches Sentry.
"""

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django_redis import get_redis_connection

from apps.boards.models import Board, BoardDailyStat, Like, Message
from corelib import wechat
from corelib.jobpolicy import job_policy
from corelib.wechat_tokens import call_with_token

logger = logging.getLogger("jobs.boards")

NOTIFIED_TTL = 30 * 24 * 3600


@job_policy(queue="default", timeout=30, retry_max=5, retry_intervals=(10, 30, 120, 600, 1800))
def moderate_message(message_id: int) -> str:
    """Check a message or reply with WeChat msg_sec_check; hide it when flagged."""
    message = (
        Message.objects.select_related("author", "board__mini_program")
        .filter(pk=message_id, moderated_at__isnull=True, is_deleted=False)
        .first()
    )
    if message is None:
        logger.info("message %s: already moderated or gone, nothing to do", message_id)
        return "skipped"
    verdict = call_with_token(
        message.board.mini_program,
        lambda token: wechat.msg_sec_check(token, message.author.openid, message.content),
    )
    flagged = verdict.is_risky
    changes = {"moderated_at": timezone.now()}
    if flagged:
        changes["status"] = Message.Status.HIDDEN
    updated = Message.objects.filter(pk=message_id, moderated_at__isnull=True).update(**changes)
    if flagged and updated:
        from apps.boards.cache import invalidate_board

        invalidate_board(message.board_id)
        logger.info("message %s on board %s hidden (label %s)", message_id, message.board_id, verdict.label)
        return "hidden"
    return "passed"


def _notified_key(reply_id: int) -> str:
    return f"{settings.CACHE_KEY_PREFIX}:notified:reply:{reply_id}"


@job_policy(queue="low", timeout=30, retry_max=3, retry_intervals=(30, 120, 600))
def notify_reply(reply_id: int) -> str:
    """Tell a message's author about a reply through a WeChat subscribe message.

    A user who has not subscribed is an expected outcome (logged, not retried).
    """
    template_id = settings.WECHAT_REPLY_TEMPLATE_ID
    reply = (
        Message.objects.select_related("author", "parent__author", "board__mini_program")
        .filter(pk=reply_id, parent__isnull=False)
        .first()
    )
    if reply is None or reply.is_deleted or reply.status == Message.Status.HIDDEN:
        return "skipped"
    recipient = reply.parent.author
    if recipient.pk == reply.author_id or not template_id:
        return "skipped"
    redis = get_redis_connection("default")
    if redis.exists(_notified_key(reply_id)):
        return "skipped"
    data = {"thing1": reply.content[:20], "thing2": reply.board.title[:20]}
    page = f"pages/message/message?id={reply.parent_id}"
    try:
        call_with_token(
            reply.board.mini_program,
            lambda token: wechat.send_subscribe_message(token, recipient.openid, template_id, data, page=page),
        )
    except wechat.SubscriptionRefusedError:
        logger.info("reply %s: user %s has not subscribed; no notification", reply_id, recipient.pk)
        redis.set(_notified_key(reply_id), "refused", ex=NOTIFIED_TTL)
        return "not-subscribed"
    redis.set(_notified_key(reply_id), "sent", ex=NOTIFIED_TTL)
    return "sent"


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


@job_policy(queue="low", timeout=600)
def rollup_daily_stats(day: str | None = None) -> int:
    """Write one BoardDailyStat per board active on `day` (default: yesterday, local time). Upsert."""
    the_day = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    start, end = _day_bounds(the_day)
    in_day = Q(created_at__gte=start, created_at__lt=end)
    posts = (
        Message.objects.filter(in_day, is_deleted=False)
        .values("board_id")
        .annotate(
            messages=Count("id", filter=Q(parent__isnull=True)),
            replies=Count("id", filter=Q(parent__isnull=False)),
        )
    )
    counts: dict[int, dict] = {row["board_id"]: {**row, "likes": 0} for row in posts}
    for row in Like.objects.filter(in_day).values("message__board_id").annotate(likes=Count("id")):
        counts.setdefault(row["message__board_id"], {"messages": 0, "replies": 0})["likes"] = row["likes"]
    users: dict[int, set] = {}
    for board_id, user_id in Message.objects.filter(in_day).values_list("board_id", "author_id"):
        users.setdefault(board_id, set()).add(user_id)
    for board_id, user_id in Like.objects.filter(in_day).values_list("message__board_id", "user_id"):
        users.setdefault(board_id, set()).add(user_id)
    # Boards that had a row for the day but no activity any more (deleted content) get zeros.
    board_ids = set(counts) | set(BoardDailyStat.objects.filter(day=the_day).values_list("board_id", flat=True))
    for board_id in board_ids & set(Board.objects.filter(pk__in=board_ids).values_list("pk", flat=True)):
        row = counts.get(board_id, {})
        BoardDailyStat.objects.update_or_create(
            board_id=board_id,
            day=the_day,
            defaults={
                "messages": row.get("messages", 0),
                "replies": row.get("replies", 0),
                "likes": row.get("likes", 0),
                "active_users": len(users.get(board_id, ())),
            },
        )
    logger.info("daily stats for %s: %d board(s)", the_day, len(board_ids))
    return len(board_ids)
