"""Boards, messages, replies and likes: the work behind apps.boards.api.

Reads go through apps.boards.cache; every write calls invalidate_board() once
its transaction has committed and before the request returns (read-your-writes).
A write builds its answer inside its transaction (corelib.dbretry restarts it
after a deadlock): once it has committed, its 2xx cannot turn into an error.
Jobs are enqueued by dotted path once the transaction commits.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.services import AuthUser, PendingAuth, check_token
from apps.boards import cache as board_cache
from apps.boards.models import Board, Like, Message
from corelib import ratelimit
from corelib.dbretry import atomic_with_retry
from corelib.errors import ApiError, ForbiddenError, NotFoundError
from corelib.outbox import enqueue_on_commit

MODERATE = "apps.boards.jobs.moderate_message"
NOTIFY_REPLY = "apps.boards.jobs.notify_reply"

_BOARD_FIELDS = ("id", "mini_program_id", "owner_id", "title", "description", "created_at")
_MESSAGE_FIELDS = (
    "id",
    "board_id",
    "parent_id",
    "author_id",
    "author__nickname",
    "author__avatar_url",
    "content",
    "reply_count",
    "like_count",
    "created_at",
)


# --- boards ------------------------------------------------------------------------


def create_board(auth: AuthUser, title: str, description: str) -> dict:
    board = Board.objects.create(
        mini_program_id=auth.mini_program_id, owner_id=auth.id, title=title, description=description
    )
    # A read of this id before it existed may have cached "no such board" (found by the fuzzer's stateful phase).
    board_cache.invalidate_board(board.id)
    return {field: getattr(board, field) for field in _BOARD_FIELDS}


def _load_board(board_id: int) -> dict:
    return Board.objects.filter(id=board_id).values(*_BOARD_FIELDS).first() or board_cache.MISSING


def _check_board(auth: AuthUser, board: dict, board_id: int) -> dict:
    # Another mini-program's board is as good as absent.
    if board.get("missing") or board["mini_program_id"] != auth.mini_program_id:
        raise NotFoundError(f"No board {board_id}.", code="board_not_found", field="board_id")
    return board


def get_board(auth: AuthUser, board_id: int) -> dict:
    parts = board_cache.cached_read(board_id, {"meta": lambda: _load_board(board_id)})
    return _check_board(auth, parts["meta"], board_id)


def list_my_boards(auth: AuthUser, cursor: int | None, limit: int) -> dict:
    boards = Board.objects.filter(owner_id=auth.id)
    if cursor:
        boards = boards.filter(id__lt=cursor)
    rows = list(boards.order_by("-id").values(*_BOARD_FIELDS)[: limit + 1])
    return _page(rows, limit)


def _page(rows: list[dict], limit: int) -> dict:
    items = rows[:limit]
    return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}


# --- reading messages ------------------------------------------------------------------


def _message_out(row: dict) -> dict:
    return {
        "id": row["id"],
        "board_id": row["board_id"],
        "parent_id": row["parent_id"],
        "author": {
            "id": row["author_id"],
            "nickname": row["author__nickname"],
            "avatar_url": row["author__avatar_url"],
        },
        "content": row["content"],
        "reply_count": row["reply_count"],
        "like_count": row["like_count"],
        "created_at": row["created_at"].isoformat(),
    }


def _visible():
    return Message.objects.filter(status=Message.Status.VISIBLE, is_deleted=False)


def _load_page(board_id: int, parent_id: int | None, cursor: int | None, limit: int) -> dict:
    """One query: a page of visible messages, newest id first, authors joined in."""
    messages = _visible().filter(board_id=board_id, parent_id=parent_id)
    if cursor:
        messages = messages.filter(id__lt=cursor)
    rows = list(messages.order_by("-id").values(*_MESSAGE_FIELDS)[: limit + 1])
    return _page([_message_out(row) for row in rows], limit)


def _load_liked(user_id: int, page: dict) -> list[int]:
    ids = [item["id"] for item in page.get("items", ())]
    if not ids:
        return []
    return list(Like.objects.filter(user_id=user_id, message_id__in=ids).values_list("message_id", flat=True))


def _with_liked(page: dict, liked: list[int]) -> dict:
    liked_set = set(liked)
    items = [{**item, "liked_by_me": item["id"] in liked_set} for item in page["items"]]
    return {"items": items, "next_cursor": page["next_cursor"]}


def list_messages(auth: AuthUser | PendingAuth, board_id: int, cursor: int | None, limit: int) -> dict:
    """A board's top-level messages, newest first. On a cache hit: no SQL, and one Redis round trip
    that also checks a pending token."""
    scope = f"msgs:{cursor or 0}:{limit}"
    # Whether I liked each message, per token rather than per user: the key must be known before the token is
    # checked. Versioned with the board like the page, so a like or unlike is seen at once either way.
    liked = f"{scope}:liked:{auth.token_digest}"
    caller: dict[str, AuthUser] = {}
    check_first = None
    if isinstance(auth, PendingAuth):
        pending = auth
        check_first = (
            pending.cache_key,
            lambda entry: caller.setdefault("me", check_token(pending.token_digest, entry)),
        )
    else:
        caller["me"] = auth
    page_holder: dict = {}

    def load_page() -> dict:
        page_holder["page"] = _load_page(board_id, None, cursor, limit)
        return page_holder["page"]

    parts = board_cache.cached_read(
        board_id,
        {
            "meta": lambda: _load_board(board_id),
            scope: load_page,
            liked: lambda: _load_liked(caller["me"].id, page_holder.get("page") or load_page()),
        },
        check_first=check_first,
    )
    _check_board(caller["me"], parts["meta"], board_id)
    return _with_liked(parts[scope], parts[liked])


def _load_parent_state(message_id: int) -> dict:
    row = Message.objects.filter(id=message_id).values("parent_id", "status", "is_deleted", "board_id").first()
    if row is None or row["parent_id"] is not None or row["is_deleted"] or row["status"] != Message.Status.VISIBLE:
        return board_cache.MISSING
    return {"ok": True}


def _message_board_id(message_id: int) -> int:
    board_id = board_cache.message_board(
        message_id, lambda: Message.objects.filter(id=message_id).values_list("board_id", flat=True).first()
    )
    if board_id is None:
        raise NotFoundError(f"No message {message_id}.", code="message_not_found", field="message_id")
    return board_id


def list_replies(auth: AuthUser, message_id: int, cursor: int | None, limit: int) -> dict:
    board_id = _message_board_id(message_id)
    scope = f"replies:{message_id}:{cursor or 0}:{limit}"
    page_holder: dict = {}

    def load_page() -> dict:
        page_holder["page"] = _load_page(board_id, message_id, cursor, limit)
        return page_holder["page"]

    parts = board_cache.cached_read(
        board_id,
        {
            "meta": lambda: _load_board(board_id),
            f"parent:{message_id}": lambda: _load_parent_state(message_id),
            scope: load_page,
            f"{scope}:liked:{auth.id}": lambda: _load_liked(auth.id, page_holder.get("page") or load_page()),
        },
    )
    _check_board(auth, parts["meta"], board_id)
    if parts[f"parent:{message_id}"].get("missing"):
        raise NotFoundError(f"No message {message_id}.", code="message_not_found", field="message_id")
    return _with_liked(parts[scope], parts[f"{scope}:liked:{auth.id}"])


# --- writing messages ---------------------------------------------------------------------


def _writable_message(auth: AuthUser, message_id: int, lock: bool = False) -> Message:
    messages = _visible().select_related("board")
    if lock:
        messages = messages.select_for_update()
    message = messages.filter(id=message_id).first()
    if message is None or message.board.mini_program_id != auth.mini_program_id:
        raise NotFoundError(f"No message {message_id}.", code="message_not_found", field="message_id")
    return message


def _new_message(auth: AuthUser, board_id: int, content: str, parent: Message | None = None) -> Message:
    return Message.objects.create(board_id=board_id, author_id=auth.id, parent=parent, content=content)


def post_message(auth: AuthUser, board_id: int, content: str) -> dict:
    ratelimit.hit("post_user", str(auth.id))

    def store() -> dict:
        board = Board.objects.filter(id=board_id, mini_program_id=auth.mini_program_id).only("id").first()
        if board is None:
            raise NotFoundError(f"No board {board_id}.", code="board_not_found", field="board_id")
        message = _new_message(auth, board_id, content)
        enqueue_on_commit(MODERATE, message.id, queue="default")
        return _out(message)

    # The answer is built inside the transaction: once it has committed nothing is left that can fail.
    answer = atomic_with_retry(store)
    board_cache.invalidate_board(board_id)
    return answer


def reply(auth: AuthUser, message_id: int, content: str) -> dict:
    ratelimit.hit("post_user", str(auth.id))

    def store() -> dict:
        parent = _writable_message(auth, message_id)
        if parent.parent_id is not None:
            message = "Replies are one level deep: reply to the top-level message."
            raise ApiError(message, code="reply_to_reply", status=409, field="message_id")
        message = _new_message(auth, parent.board_id, content, parent=parent)
        Message.objects.filter(id=parent.id).update(reply_count=F("reply_count") + 1)
        enqueue_on_commit(MODERATE, message.id, queue="default")
        enqueue_on_commit(NOTIFY_REPLY, message.id, queue="low")
        return _out(message)

    answer = atomic_with_retry(store)
    board_cache.invalidate_board(answer["board_id"])
    return answer


def _out(message: Message) -> dict:
    """The new message as the API shows it; call inside the transaction that wrote it."""
    row = Message.objects.filter(id=message.id).values(*_MESSAGE_FIELDS).get()
    return {**_message_out(row), "liked_by_me": False}  # a new message has no likes yet


def _locked_like_count(message_id: int) -> int:
    """Lock the message row first: every like and unlike of it then queues here instead of deadlocking.

    Without it, two likes each take a shared lock on the message (the foreign key
    check of the new Like) and then both wait to update its counter.
    """
    return Message.objects.select_for_update().filter(id=message_id).values_list("like_count", flat=True).get()


def like(auth: AuthUser, message_id: int) -> dict:
    """Idempotent: liking twice leaves one like."""

    def store() -> tuple[int, int]:
        message = _writable_message(auth, message_id)
        count = _locked_like_count(message.id)
        try:
            with transaction.atomic():
                Like.objects.create(message_id=message.id, user_id=auth.id)
        except IntegrityError:
            return message.board_id, count  # already liked
        Message.objects.filter(id=message.id).update(like_count=count + 1)
        return message.board_id, count + 1

    board_id, count = atomic_with_retry(store)
    board_cache.invalidate_board(board_id)
    return {"message_id": message_id, "liked": True, "like_count": count}


def unlike(auth: AuthUser, message_id: int) -> dict:
    """Idempotent: unliking what I do not like changes nothing."""

    def store() -> tuple[int, int]:
        message = _writable_message(auth, message_id)
        count = _locked_like_count(message.id)
        removed, _ = Like.objects.filter(message_id=message.id, user_id=auth.id).delete()
        if removed and count > 0:
            count -= 1
            Message.objects.filter(id=message.id).update(like_count=count)
        return message.board_id, count

    board_id, count = atomic_with_retry(store)
    board_cache.invalidate_board(board_id)
    return {"message_id": message_id, "liked": False, "like_count": count}


def delete_message(auth: AuthUser, message_id: int) -> None:
    """Soft delete, by the message's author or the board's owner."""

    def store() -> int:
        message = _writable_message(auth, message_id, lock=True)
        if auth.id not in (message.author_id, message.board.owner_id):
            raise ForbiddenError(
                "Only the message's author or the board's owner may delete it.", code="not_allowed", field="message_id"
            )
        Message.objects.filter(id=message.id).update(is_deleted=True, deleted_at=timezone.now())
        if message.parent_id is not None:
            Message.objects.filter(id=message.parent_id, reply_count__gt=0).update(reply_count=F("reply_count") - 1)
        return message.board_id

    board_cache.invalidate_board(atomic_with_retry(store))
