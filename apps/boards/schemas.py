"""Request and response shapes of the boards endpoints."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema
from pydantic import Field, field_validator

MESSAGE_MAX = 500
# What the validators below refuse, said in the OpenAPI document too, so that a client
# (or a fuzzer) reading it knows a blank title or content is not valid input.
# The characters str.strip() removes, spelled out: `\s` differs between Python's and
# JavaScript's regular expressions (\x1c-\x1f, \x85, \ufeff), and clients read the pattern
# with either.
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{_BLANK}]"
NOT_BLANK_NO_NUL = f"^[^\\x00]*[^\\x00{_BLANK}][^\\x00]*$"


class BoardIn(Schema):
    title: str = Field(min_length=1, max_length=100, json_schema_extra={"pattern": NOT_BLANK})
    description: str = Field(default="", max_length=500)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class BoardOut(Schema):
    id: int
    mini_program_id: int
    owner_id: int
    title: str
    description: str
    created_at: datetime


class BoardPage(Schema):
    items: list[BoardOut]
    next_cursor: int | None


class MessageIn(Schema):
    content: str = Field(
        min_length=1,
        max_length=MESSAGE_MAX,
        description="1 to 500 characters, not all blank, no NUL; emoji welcome.",
        json_schema_extra={"pattern": NOT_BLANK_NO_NUL},
    )

    @field_validator("content")
    @classmethod
    def _content_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class AuthorOut(Schema):
    id: int
    nickname: str
    avatar_url: str


class MessageOut(Schema):
    id: int
    board_id: int
    parent_id: int | None
    author: AuthorOut
    content: str
    reply_count: int
    like_count: int
    liked_by_me: bool
    created_at: datetime


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end.")


class LikeOut(Schema):
    message_id: int
    liked: bool
    like_count: int
