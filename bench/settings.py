"""Settings for the benchmark servers: production settings (DEBUG off, Redis channel layer and cache),
with their own Redis key prefixes so a benchmark sharing a Redis server with a running demo never
reads the demo's cache nor pushes into its map's WebSocket group."""

from bench.env import REDIS_PREFIX
from wuxi_parking.settings.production import *  # noqa: F403
from wuxi_parking.settings.production import CACHES, CHANNEL_LAYERS

CACHES["default"]["KEY_PREFIX"] = REDIS_PREFIX
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = REDIS_PREFIX

# The benchmark clients speak plain http on loopback, as nginx does to the workers once it has
# terminated TLS; without a proxy to say so, the HTTPS redirect would answer every request 301.
SECURE_SSL_REDIRECT = False
# The payments benchmark pays through the sandbox cashier (production settings leave it off).
PAYMENT_SANDBOX = True
# The benchmark serves no static files and runs no collectstatic: admin pages (the dashboard
# benchmark) name their static files by plain URL instead of through the hashed manifest.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# Nor would a client on plain http send back a cookie marked Secure: the soak's simulated drivers
# pay at the cashier page, whose form needs its CSRF cookie (and the session's) to come back.
CSRF_COOKIE_SECURE = False
SESSION_COOKIE_SECURE = False
# A benchmark is one client sending what a city's phones send: the per-address rate limits
# (apps.common.ratelimit) would measure the limiter, not the platform.
RATE_LIMIT_ENABLED = False
