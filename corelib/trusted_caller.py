"""Who may see operational details: a caller on this host, or one holding the shared secret.

A request is from this host when its direct peer is a loopback address and it
carries no X-Forwarded-For: nginx on the same host also connects from
loopback, but always sets that header (deploy/nginx.conf.template), so a
client on the internet never passes for a local one. Elsewhere (a load
balancer's health check, a monitoring host) the caller sends the secret in
the `X-Ops-Token` header, compared in constant time; OPS_TOKEN empty turns
that way off.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest

TOKEN_HEADER = "X-Ops-Token"  # noqa: S105 - a header name, not a secret


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def is_trusted_caller(request: HttpRequest) -> bool:
    if _is_loopback(request.META.get("REMOTE_ADDR", "")) and "HTTP_X_FORWARDED_FOR" not in request.META:
        return True
    expected = settings.OPS_TOKEN
    offered = request.headers.get(TOKEN_HEADER, "")
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())
