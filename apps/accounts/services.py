"""Login, API tokens and profiles: the work behind apps.accounts.api.

Token checks are the hot path of every request: a token's digest maps in Redis
to (user id, mini-program id, expiry), so a cache hit costs no SQL. Revocation
writes a tombstone there (fills use add(), so a racing fill never overwrites
it), which makes a logout effective at once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts import mini_programs
from apps.accounts.models import ApiToken, MiniProgram, WxUser
from corelib import cache as safe_cache
from corelib import cache_replay, ratelimit, wechat
from corelib.db.row_read import first_where, insert, update_fields
from corelib.dbpool import release_connections
from corelib.errors import ApiError, NotFoundError, ServiceUnavailableError, TooManyRequestsError, UnauthorizedError

logger = logging.getLogger(__name__)

TOKEN_CACHE_SECONDS = 600
REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class AuthUser:
    """Who is calling: what a token check yields, with no DB round trip."""

    id: int
    mini_program_id: int
    token_digest: str


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: WxUser
    created: bool


def token_ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "API_TOKEN_TTL_SECONDS", 7 * 24 * 3600))


def digest_of(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _token_key(digest: str) -> str:
    return f"tok:{digest}"


def get_mini_program(appid: str) -> MiniProgram:
    mini_program = mini_programs.active(appid)
    if mini_program is None:
        raise NotFoundError(f"No mini-program with appid {appid!r}.", code="unknown_appid", field="appid")
    return mini_program


def _session_for(mini_program: MiniProgram, code: str) -> wechat.Session:
    try:
        return wechat.code_to_session(mini_program.appid, mini_program.secret, code)
    except wechat.InvalidCodeError:
        raise UnauthorizedError(
            "The login code is invalid or already used.", code="invalid_code", field="code"
        ) from None
    except wechat.WeChatRateLimitError:
        raise TooManyRequestsError(
            "WeChat is rate limiting this mini-program; try again shortly.", retry_after=60, code="wechat_rate_limited"
        ) from None
    except wechat.WeChatUnavailableError as error:
        logger.warning("jscode2session failed for %s: %s", mini_program.appid, error.errmsg)
        raise ServiceUnavailableError("WeChat is unreachable; try again.", code="wechat_unavailable") from None
    except wechat.CredentialsError as error:
        mini_programs.forget(mini_program.appid)  # an operator may be fixing the secret: read it again next time
        logger.error("WeChat rejected the credentials of %s: errcode %s", mini_program.appid, error.errcode)
        raise ServiceUnavailableError("This mini-program is misconfigured.", code="wechat_misconfigured") from None
    except wechat.WeChatError as error:
        logger.warning("jscode2session for %s: errcode %s", mini_program.appid, error.errcode)
        raise ApiError("WeChat refused the login.", code="wechat_error", status=502) from None


def get_or_create_user(mini_program: MiniProgram, session: wechat.Session) -> tuple[WxUser, bool]:
    """One row per (appid, openid), even under concurrent first logins.

    The unique constraint is the guarantee: of two first logins racing to insert,
    the second gets an IntegrityError and updates the row the first inserted. A
    returning user (most logins) costs one SELECT and one UPDATE.
    """
    user = first_where(WxUser, mini_program_id=mini_program.id, openid=session.openid)
    created = False
    if user is None:
        try:
            with transaction.atomic():
                user = WxUser.objects.create(
                    mini_program=mini_program,
                    openid=session.openid,
                    unionid=session.unionid,
                    session_key=session.session_key,
                )
            created = True
        except IntegrityError:
            user = WxUser.objects.filter(mini_program=mini_program, openid=session.openid).first()
            if user is None:  # no racing first login: the mini-program row this process kept is gone
                mini_programs.forget(mini_program.appid)
                raise ServiceUnavailableError(
                    "This mini-program was changed; log in again.", code="mini_program_changed"
                ) from None
    if not created:
        unionid = session.unionid or user.unionid
        update_fields(user, session_key=session.session_key, unionid=unionid, updated_at=timezone.now())
    user.mini_program = mini_program  # the answer names its appid: no second SELECT for it
    return user, created


def issue_token(user: WxUser, ttl: timedelta | None = None) -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    expires_at = timezone.now() + (ttl if ttl is not None else token_ttl())
    api_token = insert(ApiToken(digest=digest_of(raw), user=user, expires_at=expires_at))
    return raw, api_token


def login(appid: str, code: str, ip: str) -> LoginResult:
    ratelimit.hit_all(("login_ip", ip, None), ("login_app", appid, "appid"))
    mini_program = get_mini_program(appid)
    release_connections()  # no database slot held while WeChat answers
    session = _session_for(mini_program, code)
    user, created = get_or_create_user(mini_program, session)
    raw, api_token = issue_token(user)
    logger.info("login: user %s of %s (created=%s)", user.id, appid, created)
    return LoginResult(token=raw, expires_at=api_token.expires_at, user=user, created=created)


def authenticate(raw_token: str) -> AuthUser:
    """The caller behind a bearer token, from Redis when cached, else from MySQL."""
    digest = digest_of(raw_token)
    return check_token(digest, safe_cache.get(_token_key(digest)))


@dataclass(frozen=True, slots=True)
class PendingAuth:
    """A bearer token not checked yet: a read that goes to Redis anyway fetches `cache_key`
    in the same round trip and passes what it found to check_token()."""

    token_digest: str

    @property
    def cache_key(self) -> str:
        return _token_key(self.token_digest)


def check_token(digest: str, entry: Any) -> AuthUser:
    """The caller, given what Redis held for the token (None: not cached); raises as authenticate() does."""
    if entry == REVOKED:
        raise UnauthorizedError("This token was revoked (logged out).", code="token_revoked", field="token")
    if entry is None:
        entry = _load_token(digest)
    user_id, mini_program_id, expires = entry
    if expires <= time.time():
        raise UnauthorizedError("This token has expired; log in again.", code="token_expired", field="token")
    return AuthUser(id=user_id, mini_program_id=mini_program_id, token_digest=digest)


def _load_token(digest: str) -> tuple[int, int, float]:
    row = (
        ApiToken.objects.filter(digest=digest)
        .values_list("user_id", "user__mini_program_id", "expires_at", "revoked_at")
        .first()
    )
    if row is None:
        raise UnauthorizedError("Unknown API token.", code="invalid_token", field="token")
    user_id, mini_program_id, expires_at, revoked_at = row
    remaining = expires_at.timestamp() - time.time()
    if revoked_at is not None:
        safe_cache.add(_token_key(digest), REVOKED, max(60, remaining))
        raise UnauthorizedError("This token was revoked (logged out).", code="token_revoked", field="token")
    entry = (user_id, mini_program_id, expires_at.timestamp())
    if remaining > 0:
        safe_cache.add(_token_key(digest), entry, min(TOKEN_CACHE_SECONDS, remaining))
    return entry


def logout(auth: AuthUser) -> None:
    ApiToken.objects.filter(digest=auth.token_digest, revoked_at__isnull=True).update(revoked_at=timezone.now())
    # Overwrite (not delete) the cached entry: a concurrent fill uses add() and cannot undo this.
    # If Redis misses it, it is written again as soon as Redis answers (corelib.cache_replay).
    cache_replay.must_set(_token_key(auth.token_digest), REVOKED, TOKEN_CACHE_SECONDS)


def get_profile(auth: AuthUser) -> WxUser:
    user = WxUser.objects.select_related("mini_program").filter(id=auth.id).first()
    if user is None:
        raise UnauthorizedError("This token's user no longer exists.", code="invalid_token", field="token")
    return user


def update_profile(auth: AuthUser, nickname: str | None, avatar_url: str | None) -> WxUser:
    user = get_profile(auth)
    fields = []
    if nickname is not None:
        user.nickname = nickname
        fields.append("nickname")
    if avatar_url is not None:
        user.avatar_url = avatar_url
        fields.append("avatar_url")
    if fields:
        user.save(update_fields=[*fields, "updated_at"])
    return user
