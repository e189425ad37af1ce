"""Test settings: the base settings with fast hashing and an isolated cache namespace."""

import os
import uuid

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from .base import *  # noqa: F403
from .base import CACHES, REDIS_URL

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# Every run gets its own key namespace, so runs sharing one Redis never see each other's nonces.
CACHES["default"]["KEY_PREFIX"] = f"wxp-test-{uuid.uuid4().hex[:8]}"
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
                       "prefix": f"wxp-test-{uuid.uuid4().hex[:8]}"},
        }
    }
# The open-data export (a scheduler test runs every task once) writes outside the checkout.
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ANALYTICS_EXPORT_DIR = Path(tempfile.gettempdir()) / f"wxp-test-open-data-{uuid.uuid4().hex[:8]}"
