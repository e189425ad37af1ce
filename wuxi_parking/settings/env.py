"""Everything the platform reads from the environment, in one place.

Each setting module imports from here; nothing else calls ``os.environ``.
"""

from __future__ import annotations

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
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = _list(os.environ.get("ALLOWED_HOSTS"), ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _list(os.environ.get("CSRF_TRUSTED_ORIGINS"), [])

# Key that encrypts device secrets at rest; derived from SECRET_KEY when not given.
DEVICE_SECRET_KEY = os.environ.get("DEVICE_SECRET_KEY", "")

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
WECHAT_NOTICE_TEMPLATES = os.environ.get("WECHAT_NOTICE_TEMPLATES", "")
WECHAT_NOTICES = _bool(os.environ.get("WECHAT_NOTICES"), default=True)

WECHATPAY_MCH_ID = os.environ.get("WECHATPAY_MCH_ID", "")
WECHATPAY_API_KEY = os.environ.get("WECHATPAY_API_KEY", "")
ALIPAY_APP_ID = os.environ.get("ALIPAY_APP_ID", "")
ALIPAY_PRIVATE_KEY = os.environ.get("ALIPAY_PRIVATE_KEY", "")
ALIPAY_PUBLIC_KEY = os.environ.get("ALIPAY_PUBLIC_KEY", "")
UNIONPAY_MER_ID = os.environ.get("UNIONPAY_MER_ID", "")
UNIONPAY_KEY = os.environ.get("UNIONPAY_KEY", "")

# Map base layer: "osm" (default) or "tianditu" (needs TIANDITU_KEY).
MAP_TILES = os.environ.get("MAP_TILES", "osm")
TIANDITU_KEY = os.environ.get("TIANDITU_KEY", "")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# One line per request from the development server; off by default, as lot systems post several
# times a second (behind a load balancer, it logs requests).
LOG_ACCESS = _bool(os.environ.get("LOG_ACCESS"), default=False)
