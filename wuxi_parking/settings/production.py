"""Production settings: base plus the transport security a public deployment needs.

Every worker sits behind a TLS-terminating proxy (docs/deploy.md: nginx). Each setting below comes
from the environment (``env.py``) with the safe value as its default, so that
``manage.py check --deploy --fail-level WARNING`` is clean with nothing set but the required keys.
"""

from .base import *  # noqa: F403
from .base import DEBUG, LOGGING, MIDDLEWARE, OTP_REQUIRED, REDIS_URL, env

if DEBUG:
    raise env.ImproperlyConfigured("DEBUG must be off in production")
if not env.DEVICE_SECRET_KEY:
    # Device secrets are encrypted with this key; deriving it from SECRET_KEY would make rotating
    # SECRET_KEY silently lock out every lot system.
    raise env.ImproperlyConfigured("DEVICE_SECRET_KEY is required in production")
if not env.PLATE_HASH_SALT:
    # Expired plates are hashed with it (apps.sessions.retention): a salt derived from SECRET_KEY would
    # change with it, and a guessable one would let anyone hash the city's plates and match them.
    raise env.ImproperlyConfigured("PLATE_HASH_SALT is required in production")
# Secrets come from the environment, and none of them is a value anyone could read in the code or docs.
env.refuse_known_secrets({name: globals()[name] for name in (
    "SECRET_KEY", "WECHAT_TOKEN", "WECHAT_APP_SECRET", "WECHAT_ENCODING_AES_KEY", "WECHAT_MINI_APP_SECRET",
    "WECHAT_PAY_APIV3_KEY", "WECHAT_PAY_MCH_PRIVATE_KEY", "ALIPAY_PRIVATE_KEY", "UNIONPAY_SIGN_KEY", "ETC_KEY",
    "METRICS_TOKEN")} | {"DEVICE_SECRET_KEY": env.DEVICE_SECRET_KEY, "PLATE_HASH_SALT": env.PLATE_HASH_SALT})
if env.DEVICE_SECRET_KEY == env.SECRET_KEY:
    raise env.ImproperlyConfigured("DEVICE_SECRET_KEY must differ from SECRET_KEY (rotating one must not lock "
                                   "out lots)")
if not OTP_REQUIRED:  # env.otp_required refuses it already; stated here for whoever edits that
    raise env.ImproperlyConfigured("OTP_REQUIRED must be on in production")
if not REDIS_URL:
    raise env.ImproperlyConfigured("REDIS_URL is required in production (channel layer, cache, Celery)")
if not env.WECHAT_SITE_URL_GIVEN.startswith(("https://", "http://")):
    # Every link the account sends (notices, the menu, login's callback) is made absolute with it:
    # without it they point nowhere, and WeChat's OAuth refuses the callback.
    raise env.ImproperlyConfigured("WECHAT_SITE_URL is required in production (the public https:// address of the "
                                   "site, for the links the WeChat account sends and its login callback)")

# --- HTTPS, behind the proxy ------------------------------------------------------------------
# The proxy says which scheme the client used; a worker must be reachable only through it (it
# listens on loopback or a private network), or a client could claim https itself.
SECURE_PROXY_SSL_HEADER = (("HTTP_" + env.PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
                           if env.PROXY_SSL_HEADER else None)
SECURE_SSL_REDIRECT = env.SECURE_SSL_REDIRECT
# The probes and Prometheus talk to a worker directly, over the private network, in plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.SECURE_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.SECURE_HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = env.SECURE_HSTS_PRELOAD
SESSION_COOKIE_SECURE = env.SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = env.CSRF_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True

# The sandbox cashier pays without money: never offered in production unless explicitly turned on.
PAYMENT_SANDBOX = env._bool(env.PAYMENT_SANDBOX, default=False)

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- static files: WhiteNoise, from STATIC_ROOT (collectstatic), hashed names, gzip/brotli -------
MIDDLEWARE = list(MIDDLEWARE)
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "whitenoise.middleware.WhiteNoiseMiddleware")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- observability --------------------------------------------------------------------------
LOGGING["handlers"]["console"]["formatter"] = env.LOG_FORMAT or "json"
# /metrics is never public: a token, or networks named explicitly (the proxy's address is not one).
METRICS_ALLOW_FROM = env.METRICS_ALLOW_FROM or []
