"""Login, logout and profile endpoints (thin: parse, call services, shape the answer)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from apps.accounts import services
from apps.accounts.auth import token_auth
from apps.accounts.models import WxUser
from apps.accounts.schemas import LoginIn, LoginOut, ProfilePatch, UserOut
from corelib import ratelimit
from corelib.api_responses import error_responses
from corelib.client_ip import client_ip
from corelib.errors import ApiError

router = Router(tags=["accounts"])

LOGIN_ERRORS = error_responses(401, 404, 422, 429, 502)


def user_out(user: WxUser) -> dict:
    # session_key is deliberately absent: it never leaves the server.
    return {
        "id": user.id,
        "appid": user.mini_program.appid,
        "openid": user.openid,
        "unionid": user.unionid,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "created_at": user.created_at,
    }


@router.post("/auth/login", auth=None, response={200: LoginOut, **LOGIN_ERRORS})
def login(request: HttpRequest, payload: LoginIn):
    result = services.login(payload.appid, payload.code, client_ip(request))
    return {
        "token": result.token,
        "expires_at": result.expires_at,
        "created": result.created,
        "user": user_out(result.user),
    }


@router.post("/auth/logout", auth=token_auth, response={204: None, **error_responses(401, 429)})
def logout(request: HttpRequest):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    services.logout(request.auth)
    return HttpResponse(status=204)


@router.get("/me", auth=token_auth, response={200: UserOut, **error_responses(401)})
def me(request: HttpRequest):
    return user_out(services.get_profile(request.auth))


@router.patch("/me", auth=token_auth, response={200: UserOut, **error_responses(401, 422, 429)})
def update_me(request: HttpRequest, payload: ProfilePatch):
    ratelimit.hit_write(request.auth.id, client_ip(request))
    if payload.nickname is None and payload.avatar_url is None:
        raise ApiError("Send nickname and/or avatar_url.", code="invalid", status=422, field="nickname")
    return user_out(services.update_profile(request.auth, payload.nickname, payload.avatar_url))
