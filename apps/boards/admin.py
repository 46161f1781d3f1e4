"""Admin for boards and messages: read mostly, with moderation by hand."""

from __future__ import annotations

from django.contrib import admin

from apps.boards.cache import invalidate_board
from apps.boards.models import Board, BoardDailyStat, Message


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "mini_program", "owner", "created_at"]
    list_filter = ["mini_program"]
    search_fields = ["title"]
    raw_id_fields = ["owner"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "board", "author", "short_content", "status", "is_deleted", "like_count", "created_at"]
    list_filter = ["status", "is_deleted"]
    search_fields = ["content"]
    raw_id_fields = ["board", "author", "parent"]
    readonly_fields = ["reply_count", "like_count", "created_at", "moderated_at", "deleted_at"]

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:60]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        invalidate_board(obj.board_id)  # hiding by hand must show at once, like the moderation job


@admin.register(BoardDailyStat)
class BoardDailyStatAdmin(admin.ModelAdmin):
    list_display = ["board", "day", "messages", "replies", "likes", "active_users"]
    list_filter = ["day"]
