"""More concurrent requests than pooled Redis connections: they wait their turn.

Were the pool to raise instead, the cache would take Redis for down and send
reads to MySQL, and rate limits (which let everything through while
Redis is down) would switch off under load.
"""

import threading

import pytest

from corelib import cache as safe_cache


@pytest.fixture
def small_redis_pool(settings):
    cache_settings = dict(settings.CACHES["default"])
    options = dict(cache_settings["OPTIONS"])
    options["CONNECTION_POOL_KWARGS"] = {**options["CONNECTION_POOL_KWARGS"], "max_connections": 2}
    cache_settings["OPTIONS"] = options
    settings.CACHES = {"default": cache_settings}
    safe_cache.reset_backoff()
    yield
    safe_cache.reset_backoff()


def test_forty_concurrent_reads_share_two_connections_without_an_outage(small_redis_pool):
    safe_cache.set("pool-test", "value", 60)
    results, start = [], threading.Barrier(40)

    def read():
        start.wait()
        for _ in range(20):
            results.append(safe_cache.get("pool-test"))

    threads = [threading.Thread(target=read) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 800
    assert set(results) == {"value"}
    assert safe_cache.available()
