"""Bearer-token authentication for ninja routes (see services.authenticate)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.services import AuthUser, PendingAuth, authenticate, digest_of
from corelib.errors import ApiError


class TokenAuth(HttpBearer):
    openapi_description = "Our own API token from POST /api/v1/auth/login."

    def __init__(self, checked_by_view: bool = False) -> None:
        super().__init__()
        self.checked_by_view = checked_by_view

    def authenticate(self, request: HttpRequest, token: str) -> AuthUser | PendingAuth:
        if self.checked_by_view:
            return PendingAuth(digest_of(token))
        # Raises UnauthorizedError naming the reason (unknown, expired, revoked).
        return authenticate(token)


token_auth = TokenAuth()
# For a read whose view fetches from Redis first: it checks the token in that same round trip, before anything
# else, and answers exactly as token_auth would. The same class, so the API document shows the same scheme.
token_checked_by_view = TokenAuth(checked_by_view=True)


def idempotency_scope(request: HttpRequest) -> str | None:
    """Whose Idempotency-Keys a request uses (corelib.idempotency): its user's.

    None without a token that authenticates: the view answers 401 itself.
    """
    header = request.headers.get("Authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return f"user:{authenticate(token.strip()).id}"
    except ApiError:
        return None
