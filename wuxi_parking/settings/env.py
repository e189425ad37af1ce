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

# Map base layer: "osm" (default) or "tianditu" (needs TIANDITU_KEY).
MAP_TILES = os.environ.get("MAP_TILES", "osm")
TIANDITU_KEY = os.environ.get("TIANDITU_KEY", "")

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
# One line per request from the development server; off by default, as lot systems post several
# times a second (behind a load balancer, it logs requests).
LOG_ACCESS = _bool(os.environ.get("LOG_ACCESS"), default=False)
