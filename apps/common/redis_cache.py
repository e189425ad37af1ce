"""Django's Redis cache backend with one connection pool per process, not one per request.

Django keeps a cache object per thread and, under ASGI, per request context; its ``RedisCache``
builds its own client, and so its own connection pool, in each of those objects. On an ASGI server
that is a new TCP connection to Redis for every request that touches the cache: in the ingest
benchmark, connecting was most of the nonce check's time (``apps.sessions.nonces``). Here the client
(and its pools, which redis-py makes thread-safe and fork-aware) is shared by every cache object of
the process with the same servers and options; keys, prefixes and timeouts stay the cache object's.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedRedisCache(RedisCache):
    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = self._class(self._servers, **self._options)
        return client
