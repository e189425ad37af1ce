"""Everything the platform reads from the environment, in one place.

Each setting module imports from here; nothing else calls ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class ImproperlyConfigured(Exception):
    pass


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None, default: list[str]) -> list[str]:
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = _bool(os.environ.get("DEBUG"), default=False)
CI = _bool(os.environ.get("CI"), default=False)
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "var" / "wuxi_parking.sqlite3"))
# Where the daily open-data export writes its folders (one per day) for the city data platform to fetch.
ANALYTICS_EXPORT_DIR = os.environ.get("ANALYTICS_EXPORT_DIR", str(BASE_DIR / "var" / "open-data"))
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = _list(os.environ.get("ALLOWED_HOSTS"), ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _list(os.environ.get("CSRF_TRUSTED_ORIGINS"), [])

# Key that encrypts device secrets at rest; derived from SECRET_KEY when not given.
DEVICE_SECRET_KEY = os.environ.get("DEVICE_SECRET_KEY", "")
# Salt of the hash an expired stay's plate becomes (apps.sessions.retention); required in production,
# derived from SECRET_KEY elsewhere. Changing it makes old hashed plates unmatchable by staff.
PLATE_HASH_SALT = os.environ.get("PLATE_HASH_SALT", "")
# Days a finished, settled stay keeps its plate in clear (docs/privacy.md says why 180).
SESSION_PLATE_RETENTION_DAYS = os.environ.get("SESSION_PLATE_RETENTION_DAYS", "")

WECHAT_TOKEN = os.environ.get("WECHAT_TOKEN", "")
WECHAT_APP_ID = os.environ.get("WECHAT_APP_ID", "")
WECHAT_APP_SECRET = os.environ.get("WECHAT_APP_SECRET", "")
WECHAT_ENCODING_AES_KEY = os.environ.get("WECHAT_ENCODING_AES_KEY", "")
# WeChat's API servers (tests point this at a fake); the mini program's own app id and secret; the
# platform's public address, for links in replies, the menu and the OAuth redirect; template ids of
# the notices by kind, as JSON ({"payment_receipt": "…"}); WECHAT_NOTICES=false turns notices off.
WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
WECHAT_MINI_APP_ID = os.environ.get("WECHAT_MINI_APP_ID", "")
WECHAT_MINI_APP_SECRET = os.environ.get("WECHAT_MINI_APP_SECRET", "")
WECHAT_SITE_URL = os.environ.get("WECHAT_SITE_URL", "http://127.0.0.1:8000")
# What the environment itself says (production refuses to start on the local default above).
WECHAT_SITE_URL_GIVEN = os.environ.get("WECHAT_SITE_URL", "").strip()
WECHAT_NOTICE_TEMPLATES = os.environ.get("WECHAT_NOTICE_TEMPLATES", "")
WECHAT_NOTICES = _bool(os.environ.get("WECHAT_NOTICES"), default=True)

# Payment channels (SPEC §7). Keys are PEM text or secrets from the environment, never committed;
# a channel whose keys are missing is simply not offered. *_API_BASE points a channel at its
# gateway (tests and staging at a fake one).
WECHAT_PAY_MCH_ID = os.environ.get("WECHAT_PAY_MCH_ID", "")
WECHAT_PAY_APP_ID = os.environ.get("WECHAT_PAY_APP_ID", "")
WECHAT_PAY_APIV3_KEY = os.environ.get("WECHAT_PAY_APIV3_KEY", "")
WECHAT_PAY_MCH_PRIVATE_KEY = os.environ.get("WECHAT_PAY_MCH_PRIVATE_KEY", "")
WECHAT_PAY_MCH_SERIAL = os.environ.get("WECHAT_PAY_MCH_SERIAL", "")
WECHAT_PAY_PUBLIC_KEY = os.environ.get("WECHAT_PAY_PUBLIC_KEY", "")
WECHAT_PAY_PUBLIC_KEY_ID = os.environ.get("WECHAT_PAY_PUBLIC_KEY_ID", "")
WECHAT_PAY_API_BASE = os.environ.get("WECHAT_PAY_API_BASE", "https://api.mch.weixin.qq.com")
ALIPAY_APP_ID = os.environ.get("ALIPAY_APP_ID", "")
ALIPAY_PRIVATE_KEY = os.environ.get("ALIPAY_PRIVATE_KEY", "")
ALIPAY_PUBLIC_KEY = os.environ.get("ALIPAY_PUBLIC_KEY", "")
ALIPAY_SELLER_ID = os.environ.get("ALIPAY_SELLER_ID", "")
ALIPAY_API_BASE = os.environ.get("ALIPAY_API_BASE", "https://openapi.alipay.com/gateway.do")
UNIONPAY_MER_ID = os.environ.get("UNIONPAY_MER_ID", "")
UNIONPAY_SIGN_KEY = os.environ.get("UNIONPAY_SIGN_KEY", "")
UNIONPAY_SIGN_CERT_ID = os.environ.get("UNIONPAY_SIGN_CERT_ID", "")
UNIONPAY_VERIFY_KEY = os.environ.get("UNIONPAY_VERIFY_KEY", "")
UNIONPAY_API_BASE = os.environ.get("UNIONPAY_API_BASE", "https://gateway.95516.com")
ETC_MERCHANT_ID = os.environ.get("ETC_MERCHANT_ID", "")
ETC_KEY = os.environ.get("ETC_KEY", "")
ETC_API_BASE = os.environ.get("ETC_API_BASE", "")
# The platform's own cashier (the sandbox payment channel): on by default, off by default in production.
PAYMENT_SANDBOX = os.environ.get("PAYMENT_SANDBOX", "")
# The platform's public address (https://host) gateways call back and printed pay codes point at;
# empty: taken from each request.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "").rstrip("/")

# Map base layer: "osm" (default) or "tianditu" (needs TIANDITU_KEY).
MAP_TILES = os.environ.get("MAP_TILES", "osm")
TIANDITU_KEY = os.environ.get("TIANDITU_KEY", "")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# One line per request from the development server; off by default, as lot systems post several
# times a second (behind a load balancer, it logs requests).
LOG_ACCESS = _bool(os.environ.get("LOG_ACCESS"), default=False)

# Logs: "plain" (the default) or "json" (production's default: one JSON object a line, with request ids).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "").strip().lower()

# /metrics: a bearer token, and/or client networks allowed without one (comma-separated CIDRs).
# Unset, the allowlist is loopback in development and empty in production (token only).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
def _networks(value: str | None) -> list[str] | None:
    if value is None:
        return None
    for network in _list(value, []):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"METRICS_ALLOW_FROM: {network!r} is not an address or network") from None
    return _list(value, [])


METRICS_ALLOW_FROM = _networks(os.environ.get("METRICS_ALLOW_FROM"))
# Where collectstatic puts the files WhiteNoise serves.
STATIC_ROOT = os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles"))

# Transport security behind the TLS-terminating proxy (production.py). The defaults are the safe
# ones; `make serve-prod` turns the HTTPS-only ones off for plain http on loopback.
SECURE_SSL_REDIRECT = _bool(os.environ.get("SECURE_SSL_REDIRECT"), default=True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool(os.environ.get("SECURE_HSTS_INCLUDE_SUBDOMAINS"), default=True)
SECURE_HSTS_PRELOAD = _bool(os.environ.get("SECURE_HSTS_PRELOAD"), default=True)
SESSION_COOKIE_SECURE = _bool(os.environ.get("SESSION_COOKIE_SECURE"), default=True)
CSRF_COOKIE_SECURE = _bool(os.environ.get("CSRF_COOKIE_SECURE"), default=True)
# The header the proxy sets to the scheme the client used (nginx: X-Forwarded-Proto $scheme);
# empty: no proxy, trust no header.
PROXY_SSL_HEADER = os.environ.get("PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()

# Rate limits (apps/common/ratelimit.py): off only for a load test; the client-address header only
# when the proxy in front sets it (daphne --proxy-headers already puts nginx's into REMOTE_ADDR).
RATE_LIMIT_ENABLED = _bool(os.environ.get("RATE_LIMIT_ENABLED"), default=True)
RATE_LIMIT_CLIENT_IP_HEADER = os.environ.get("RATE_LIMIT_CLIENT_IP_HEADER", "").strip()
# CSP_REPORT_ONLY=true sends the policy as Content-Security-Policy-Report-Only (trying a change out).
CSP_REPORT_ONLY = _bool(os.environ.get("CSP_REPORT_ONLY"), default=False)


def otp_required(*, debug: bool, embedded: bool) -> bool:
    """OTP_REQUIRED: on unless set off, and it may be set off only in the embedded demo city (DEBUG on
    SQLite), where `make run`'s demo users log in with a password. The default there is off too."""
    value = os.environ.get("OTP_REQUIRED")
    if value is None or value == "":
        return not (debug and embedded)
    if not _bool(value) and not (debug and embedded):
        raise ImproperlyConfigured("OTP_REQUIRED=false is only for the embedded demo (DEBUG on SQLite)")
    return _bool(value)


# Values that are public (in this repository, in docs and examples) and so never a production secret.
KNOWN_SECRET_VALUES = frozenset({
    "insecure-development-key-only-for-debug", "test-secret-key-not-for-production",
    "wuxi-demo-wechat-token", "wuxiDemoEncodingAesKey0123456789abcdefghijk",
})
_PLACEHOLDER = {"changeme", "change-me", "change_me", "secret", "password", "test", "demo", "example", "todo",
                "xxx", "none", "null", "default"}


def refuse_known_secrets(values: dict[str, str]) -> None:
    """Production takes its secrets from the environment only: a value from the code, the docs or the
    demo (or an obvious placeholder) is refused by name, never echoed. An empty payment or WeChat
    secret stays allowed: that channel is simply not offered."""
    for name, value in values.items():
        if not value:
            continue
        plain = value.strip()
        if (plain in KNOWN_SECRET_VALUES or plain.lower() in _PLACEHOLDER or plain.startswith("django-insecure")
                or (len(plain) >= 4 and len(set(plain)) == 1)):
            raise ImproperlyConfigured(f"{name} is a default or placeholder value: set a real secret in the "
                                       "environment")
