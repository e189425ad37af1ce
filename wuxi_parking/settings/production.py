"""Production settings: base plus the transport security a public deployment needs."""

from .base import *  # noqa: F403
from .base import DEBUG, REDIS_URL, env

if DEBUG:
    raise env.ImproperlyConfigured("DEBUG must be off in production")
if not env.DEVICE_SECRET_KEY:
    # Device secrets are encrypted with this key; deriving it from SECRET_KEY would make rotating
    # SECRET_KEY silently lock out every lot system.
    raise env.ImproperlyConfigured("DEVICE_SECRET_KEY is required in production")
if not REDIS_URL:
    raise env.ImproperlyConfigured("REDIS_URL is required in production (channel layer, cache, Celery)")

# The sandbox cashier pays without money: never offered in production unless explicitly turned on.
PAYMENT_SANDBOX = env._bool(env.PAYMENT_SANDBOX, default=False)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
