"""`GET /metrics`: Prometheus text format, answered only to the addresses in settings.METRICS_ALLOWED.

The client address is the one corelib.client_ip believes (X-Forwarded-For only
from a trusted proxy), so a request relayed by nginx from the internet is judged
by its real origin, not by nginx's loopback address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from corelib.client_ip import client_ip
from corelib.errors import json_error
from corelib.metrics import exposition


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def is_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.METRICS_ALLOWED)))


def metrics(request: HttpRequest) -> HttpResponse:
    if not is_allowed(client_ip(request)):
        return json_error(403, "forbidden", "Metrics are served only to the addresses in METRICS_ALLOWED.")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
