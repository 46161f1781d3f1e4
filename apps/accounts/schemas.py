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


# The avatar URLs accepted: a shape the OpenAPI document states exactly (enforced as
# written, in plain ASCII classes that read the same in every regex dialect), within what
# URLValidator accepts too. WeChat's avatar URLs fit it; the empty string clears the avatar.
AVATAR_URL_SHAPE = r"^(|https?://([a-z0-9]{1,30}\.){1,4}[a-z]{2,10}(/[A-Za-z0-9._~-]{0,200}){0,8})$"


class ProfilePatch(Schema):
    """At least one of the two fields; null is not a value (leave the field out)."""

    model_config = {"json_schema_extra": {"anyOf": [{"required": ["nickname"]}, {"required": ["avatar_url"]}]}}

    nickname: str = Field(default=None, max_length=64)  # type: ignore[assignment]
    avatar_url: str = Field(  # type: ignore[assignment]
        default=None,
        max_length=500,
        pattern=AVATAR_URL_SHAPE,
        description="An http(s) URL, or empty.",
    )

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
