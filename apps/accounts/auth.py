"""Bearer-token authentication for ninja routes (see services.authenticate)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.services import AuthUser, authenticate
from corelib.errors import ApiError


class TokenAuth(HttpBearer):
    openapi_description = "Our own API token from POST /api/v1/auth/login."

    def authenticate(self, request: HttpRequest, token: str) -> AuthUser:
        # Raises UnauthorizedError naming the reason (unknown, expired, revoked).
        return authenticate(token)


token_auth = TokenAuth()


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
