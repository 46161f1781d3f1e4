"""Request and response shapes of the accounts endpoints."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from ninja import Schema
from pydantic import Field, field_validator

_url = URLValidator(schemes=["https", "http"])


class LoginIn(Schema):
    appid: str = Field(min_length=1, max_length=32, description="The mini-program's appid.")
    code: str = Field(min_length=1, max_length=128, description="From wx.login() in the mini-program.")


class UserOut(Schema):
    id: int
    appid: str
    openid: str
    unionid: str
    nickname: str
    avatar_url: str
    created_at: datetime


class LoginOut(Schema):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime
    created: bool = Field(description="True when this login created the user.")
    user: UserOut


class ProfilePatch(Schema):
    nickname: str | None = Field(default=None, max_length=64)
    avatar_url: str | None = Field(default=None, max_length=500)

    @field_validator("nickname")
    @classmethod
    def _strip_nickname(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("avatar_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value:
            try:
                _url(value)
            except DjangoValidationError:
                raise ValueError("must be an http(s) URL") from None
        return value
