"""Boards, messages (a reply is a message with a parent), likes, daily statistics."""

from django.db import models

from apps.accounts.models import MiniProgram, WxUser


class Board(models.Model):
    mini_program = models.ForeignKey(MiniProgram, on_delete=models.PROTECT, related_name="boards")
    owner = models.ForeignKey(WxUser, on_delete=models.PROTECT, related_name="boards")
    title = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible"
        HIDDEN = "hidden"  # flagged by moderation

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(WxUser, on_delete=models.PROTECT, related_name="messages")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    content = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VISIBLE)
    moderated_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    reply_count = models.PositiveIntegerField(default=0)
    like_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Cursor pagination: a board's top-level messages (or a message's replies), newest id first.
            models.Index(fields=["board", "parent", "-id"], name="message_board_parent_id"),
        ]

    def __str__(self) -> str:
        return self.content[:40]


class Like(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="likes")
    user = models.ForeignKey(WxUser, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="uniq_like_per_user")]

    def __str__(self) -> str:
        return f"like of message {self.message_id} by user {self.user_id}"


class BoardDailyStat(models.Model):
    """One row per board and day, written by the daily roll-up job."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    messages = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "day"], name="uniq_stat_per_board_day")]

    def __str__(self) -> str:
        return f"board {self.board_id} on {self.day}"
