"""The Redis cache backend shares one client (and its connection pools) per process."""

from __future__ import annotations

from apps.common.redis_cache import SharedRedisCache


def _cache(location: str, **options) -> SharedRedisCache:
    return SharedRedisCache(location, {"KEY_PREFIX": "p", "OPTIONS": options})


def test_cache_objects_of_one_server_share_one_client_and_its_pools():
    # Django makes a cache object per thread and, under ASGI, per request: each used to open its own
    # connection to Redis. Creating the client connects to nothing, so no server is needed here.
    first, second = _cache("redis://127.0.0.1:6390/3", socket_timeout=2), _cache("redis://127.0.0.1:6390/3",
                                                                                 socket_timeout=2)
    assert first is not second
    assert first._cache is second._cache
    assert first._cache._get_connection_pool(write=True) is second._cache._get_connection_pool(write=True)


def test_another_server_or_other_options_get_their_own_client():
    base = _cache("redis://127.0.0.1:6390/3", socket_timeout=2)
    assert _cache("redis://127.0.0.1:6390/4", socket_timeout=2)._cache is not base._cache
    assert _cache("redis://127.0.0.1:6390/3", socket_timeout=5)._cache is not base._cache
