"""Bearer-token authentication for ninja routes (see services.authenticate)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from apps.accounts.services import AuthUser, authenticate


class TokenAuth(HttpBearer):
    openapi_description = "Our own API token from POST /api/v1/auth/login."

    def authenticate(self, request: HttpRequest, token: str) -> AuthUser:
        # Raises UnauthorizedError naming the reason (unknown, expired, revoked).
        return authenticate(token)


token_auth = TokenAuth()
