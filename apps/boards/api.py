"""Board, message, reply and like endpoints (thin: parse, call services, shape the answer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from apps.accounts.auth import token_auth, token_checked_by_view
from apps.boards import services
from apps.boards.schemas import BoardIn, BoardOut, BoardPage, LikeOut, MessageIn, MessageOut, MessagePage
from corelib import ratelimit
from corelib.api_responses import error_responses
from corelib.client_ip import client_ip
from corelib.render import json_response

router = Router(tags=["boards"], auth=token_auth)

ERRORS = error_responses(401, 403, 404, 409, 422, 429)


class PageParams(Schema):
    cursor: int | None = Field(default=None, ge=1, description="next_cursor of the previous page.")
    limit: int = Field(default=20, ge=1, le=100)


@router.post("/boards", response={201: BoardOut, **ERRORS})
def create_board(request: HttpRequest, payload: BoardIn):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    return json_response(services.create_board(request.auth, payload.title, payload.description), status=201)


@router.get("/boards", response={200: BoardPage, **ERRORS})
def list_my_boards(request: HttpRequest, page: Query[PageParams]):
    return json_response(services.list_my_boards(request.auth, page.cursor, page.limit))


@router.get("/boards/{board_id}", response={200: BoardOut, **ERRORS})
def get_board(request: HttpRequest, board_id: int):
    return json_response(services.get_board(request.auth, board_id))


@router.get("/boards/{board_id}/messages", response={200: MessagePage, **ERRORS}, auth=token_checked_by_view)
def list_messages(request: HttpRequest, board_id: int, page: Query[PageParams]):
    # The hottest read: on a hit, token, board and page come in one Redis round trip (no SQL), encoded once by orjson.
    return json_response(services.list_messages(request.auth, board_id, page.cursor, page.limit))


@router.post("/boards/{board_id}/messages", response={201: MessageOut, **ERRORS})
def post_message(request: HttpRequest, board_id: int, payload: MessageIn):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    return json_response(services.post_message(request.auth, board_id, payload.content), status=201)


@router.get("/messages/{message_id}/replies", response={200: MessagePage, **ERRORS})
def list_replies(request: HttpRequest, message_id: int, page: Query[PageParams]):
    return json_response(services.list_replies(request.auth, message_id, page.cursor, page.limit))


@router.post("/messages/{message_id}/replies", response={201: MessageOut, **ERRORS})
def reply(request: HttpRequest, message_id: int, payload: MessageIn):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    return json_response(services.reply(request.auth, message_id, payload.content), status=201)


@router.put("/messages/{message_id}/like", response={200: LikeOut, **ERRORS})
def like(request: HttpRequest, message_id: int):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    return json_response(services.like(request.auth, message_id))


@router.delete("/messages/{message_id}/like", response={200: LikeOut, **ERRORS})
def unlike(request: HttpRequest, message_id: int):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    return json_response(services.unlike(request.auth, message_id))


@router.delete("/messages/{message_id}", response={204: None, **ERRORS})
def delete_message(request: HttpRequest, message_id: int):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    services.delete_message(request.auth, message_id)
    return HttpResponse(status=204)
