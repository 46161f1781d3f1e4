"""corelib.client_ip: X-Forwarded-For only from trusted proxies."""

import pytest
from django.test import RequestFactory

from corelib.client_ip import client_ip


@pytest.fixture
def trusted(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.1.0.0/16"]


def ip(remote: str, forwarded: str | None = None) -> str:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_a_direct_client_is_its_peer_address(trusted):
    assert ip("198.51.100.1", "1.2.3.4") == "198.51.100.1"


def test_behind_a_trusted_proxy_the_last_untrusted_hop_is_the_client(trusted):
    assert ip("127.0.0.1", "6.6.6.6, 198.51.100.2") == "198.51.100.2"
    assert ip("127.0.0.1", "198.51.100.3, 10.1.2.3") == "198.51.100.3"  # through two of our proxies


def test_garbage_in_the_header_falls_back_to_the_peer(trusted):
    assert ip("127.0.0.1", "not-an-ip") == "127.0.0.1"
    assert ip("127.0.0.1", "") == "127.0.0.1"
