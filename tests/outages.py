"""Outside services made unreachable, for the tests that check the platform rides their outage out."""

# Nothing listens on port 1: every call to this cache is refused at once, as when Redis is down.
UNREACHABLE_REDIS_CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                        "LOCATION": "redis://127.0.0.1:1/0",
                                        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
