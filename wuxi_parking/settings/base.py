"""Settings shared by every environment. Values that vary come from ``env``."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from . import env

BASE_DIR = env.BASE_DIR
DEBUG = env.DEBUG

if env.SECRET_KEY:
    SECRET_KEY = env.SECRET_KEY
elif DEBUG:
    SECRET_KEY = "insecure-development-key-only-for-debug"  # noqa: S105
else:
    raise env.ImproperlyConfigured("SECRET_KEY is required unless DEBUG is on")

ALLOWED_HOSTS = env.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    "daphne",  # first, so runserver serves HTTP and WebSocket through ASGI
    "apps.common.admin_site.ParkingAdminConfig",  # django.contrib.admin, discovering all but leaflet
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI from static/, not a CDN: the platform runs on closed networks
    "leaflet",
    "simple_history",
    "channels",
    "axes",  # admin login lockout (AXES_* below)
    "django_otp",  # the admin's second factor (apps/common/mfa.py)
    "django_otp.plugins.otp_totp",
    "apps.common",
    "apps.audit",
    "apps.regions",
    "apps.lots",
    "apps.berths",
    "apps.sessions.apps.ParkingSessionsConfig",
    "apps.realtime",
    "apps.payments",
    "apps.complaints",
    "apps.reservations",
    "apps.wechat",
    "apps.analytics",
    "apps.demo",  # the demo city's commands; its guard refuses them under production settings
]

MIDDLEWARE = [
    "apps.common.observability.RequestIdMiddleware",  # first: every log line of the request carries its id
    "apps.common.observability.MetricsMiddleware",  # counts what the client finally got
    "apps.common.api.exceptions.APIErrorBodyMiddleware",  # outside the rest: sees every error answered under /api/
    "django.middleware.security.SecurityMiddleware",
    "apps.common.security.SecurityHeadersMiddleware",  # CSP (with a nonce when a page asks) and Permissions-Policy
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "apps.common.db.DatabaseUnavailableMiddleware",  # 503, not 500, when the database is down
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session passed a TOTP device
    "apps.common.ratelimit.RateLimitMiddleware",  # after auth: a citizen is counted by who they are
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "apps.audit.middleware.PlateViewMiddleware",  # staff pages that show full plates: who saw which, when
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into its answer
]

ROOT_URLCONF = "wuxi_parking.urls"
ASGI_APPLICATION = "wuxi_parking.asgi.application"
WSGI_APPLICATION = "wuxi_parking.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
if env.DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(env.DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI each request may run on another thread, so persistent connections are never
        # reused (every request opened one); psycopg's pool is what Django recommends instead.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 20, "timeout": 10}
        # Check each connection before the pool hands it out (Django passes psycopg_pool's
        # check_connection): after a server restart the pool held connections the server had
        # dropped, and every request that drew one failed.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    Path(env.SQLITE_PATH).parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.SQLITE_PATH,
            "OPTIONS": {
                # WAL lets the server read while the simulator writes; IMMEDIATE transactions and a
                # busy timeout make concurrent writers wait for the lock instead of failing.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: channel layer, cache, celery ------------------------------------------------------
REDIS_URL = env.REDIS_URL
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels_redis blocks 5 s on a receive; redis-py's default 5 s socket timeout would
            # cut every idle receive (and could drop a message popped just then), so wait longer.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 10}], "capacity": 1000, "expiry": 10},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "apps.common.redis_cache.SharedRedisCache",  # one pool a process: see there
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "wxp",
            # An unreachable Redis must fail fast: callers fall back (nonces to the database, the map
            # snapshot to a fresh build) instead of holding a request for the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "wxp"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_IGNORE_RESULT = True
# The worker and beat log through LOGGING (JSON in production), not through a format of their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work. Production runs these with Celery beat; the embedded default runs the same task
# functions from `manage.py run_scheduler`, which `make run` starts beside the server.
CELERY_BEAT_SCHEDULE = {
    "watch-connectivity": {"task": "apps.lots.tasks.watch_connectivity", "schedule": 30.0},
    # The hotline's 督办 pass: warnings before deadlines, escalations, closing resolved tickets.
    "supervise-tickets": {"task": "apps.complaints.tasks.supervise_tickets", "schedule": 300.0},
    # Sensor changes count once they have held BERTH_DEBOUNCE_S; this settles quiet lots' berths.
    "settle-berths": {"task": "apps.berths.tasks.settle_berths", "schedule": 10.0},
    # Nonces recorded in the database while Redis was unreachable (apps.sessions.nonces).
    "purge-nonces": {"task": "apps.sessions.tasks.purge_nonces", "schedule": 300.0},
    # Bookings nobody arrived for (no-shows, suspensions), completed stays, expired sharing contracts.
    "sweep-reservations": {"task": "apps.reservations.tasks.sweep_reservations", "schedule": 60.0},
    # Unpaid orders past their 15 minutes: asked at their gateway, then paid or closed (apps.payments).
    "reconcile-orders": {"task": "apps.payments.tasks.reconcile_orders", "schedule": 60.0},
    # Pay-later exits charged through their agreement; arrears reminders; statements; refunds to resend.
    "charge-agreements": {"task": "apps.payments.tasks.charge_agreements", "schedule": 60.0},
    "remind-arrears": {"task": "apps.payments.tasks.remind_arrears", "schedule": 3600.0},
    "build-statements": {"task": "apps.payments.tasks.build_statements", "schedule": 3600.0},
    "retry-refunds": {"task": "apps.payments.tasks.retry_refunds", "schedule": 300.0},
    # Settled stays past SESSION_PLATE_RETENTION_DAYS: their plates become salted hashes (docs/privacy.md).
    "purge-plates": {"task": "apps.sessions.tasks.purge_plates", "schedule": 3600.0},
    # Analytics summaries (apps.analytics.rollups): samples of every lot's live count, the hourly and
    # daily rollups (each catching up on missed runs), the samples' retention, the daily open-data export.
    "analytics-samples": {"task": "apps.analytics.tasks.take_samples", "schedule": 60.0 * 5},
    "analytics-hours": {"task": "apps.analytics.tasks.roll_up_hours", "schedule": 300.0},
    "analytics-days": {"task": "apps.analytics.tasks.roll_up_days", "schedule": 3600.0},
    # The dashboards' region rollups and the lots' last four weeks, from the day rows above; the last
    # two days again each run, so a run that comes before the day rollup's is made good an hour later.
    "analytics-regions": {"task": "apps.analytics.dashboards.tasks.region_rollup", "schedule": 3600.0},
    "analytics-purge-samples": {"task": "apps.analytics.tasks.purge_samples", "schedule": 3600.0},
    "analytics-export": {"task": "apps.analytics.tasks.export_open_data", "schedule": 3600.0},
    # Data-quality supervision (督查): each rule over all lots, cases per episode, quiet-period close.
    "supervise-data-quality": {"task": "apps.analytics.supervision.tasks.supervise_data_quality",
                               "schedule": 300.0},
    # The occupancy forecast: judged per lot weekly on held-out days, published every five minutes
    # where it beat the naive baselines (apps.analytics.forecast). Evaluation first: the embedded
    # scheduler runs each entry once at start, in this order.
    "evaluate-forecasts": {"task": "apps.analytics.tasks.evaluate_forecasts", "schedule": 7 * 86400.0},
    "refresh-forecasts": {"task": "apps.analytics.tasks.refresh_forecasts", "schedule": 300.0},
}
# --- analytics ------------------------------------------------------------------------------
ANALYTICS_SAMPLE_MINUTES = 5  # the beat entry above runs at this interval
ANALYTICS_SAMPLE_RETENTION_DAYS = 35
ANALYTICS_CATCHUP_HOURS = 48  # how far back a periodic rollup catches up; older gaps: analytics_rollup
ANALYTICS_CATCHUP_DAYS = 7
ANALYTICS_EXPORT_DIR = Path(env.ANALYTICS_EXPORT_DIR)
# Held-out days of the weekly forecast evaluation (the week before them fits it).
FORECAST_EVALUATION_DAYS = 7
BERTH_DEBOUNCE_S = 10

# --- rate limits (apps/common/ratelimit.py) ---------------------------------------------------
# (requests, window in seconds) per client key of each face, counted on the shared cache.
RATE_LIMIT_ENABLED = env.RATE_LIMIT_ENABLED
RATE_LIMITS = {
    "public": (300, 60),     # by address: a map page polls a few times a minute, a NAT'd office shares one
    "citizen": (120, 60),    # by citizen
    "ingest": (1200, 60),    # by device key and address: a busy lot posts a batch a second or two
    "callback": (6000, 60),  # by provider and address: gateways retry and deliver backlogs in bursts
    "open311": (120, 60),    # by address
    "wechat": (6000, 60),    # WeChat's servers relay every follower's message from a few addresses
}
RATE_LIMIT_CACHE = "default"
# The header the proxy sets to the client's address, when REMOTE_ADDR is the proxy's; empty: REMOTE_ADDR.
RATE_LIMIT_CLIENT_IP_HEADER = env.RATE_LIMIT_CLIENT_IP_HEADER

# --- auth -----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username and address before the password
    "django.contrib.auth.backends.ModelBackend",
]
# django-axes: five wrong passwords (or codes) for one username from one address lock that pair
# for 30 minutes; records in the database (its own tables), visible to superusers in the admin.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_COOLOFF_MESSAGE = _("登录失败次数过多，该账号已在此地址暂时锁定，请 30 分钟后再试或联系系统管理员解锁。")
AXES_CLIENT_IP_CALLABLE = "apps.common.ratelimit.known_client_ip"  # the same client address as the rate limits
AXES_VERBOSE = False
# The second factor (apps/common/mfa.py): required for city-wide staff, superusers and these permissions.
OTP_REQUIRED = env.otp_required(debug=DEBUG, embedded=not env.DATABASE_URL)
OTP_REQUIRED_PERMISSIONS = ["payments.add_refund", "payments.change_refund"]
OTP_TOTP_ISSUER = "无锡停车"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.STATIC_ROOT

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.common.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.common.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Wuxi Parking API (无锡停车)",
    "DESCRIPTION": "The networking and interface specification v1 of Wuxi's city parking platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A lot's public status (SPEC §4) shares the field name "status" with other choice sets.
    "ENUM_NAME_OVERRIDES": {"LotStatusEnum": "apps.lots.api.serializers.PUBLIC_STATUSES",
                            # A ticket's state (SPEC §8.2) and its previous state in the staff API's history.
                            "TicketStateEnum": "apps.complaints.workflow.STATES",
                            # "kind" names a lot's kind and an order item's: each keeps its own enum.
                            "KindEnum": "apps.lots.models.ParkingLot.Kind",
                            "OrderItemKindEnum": "apps.payments.models.OrderItem.Kind",
                            # an order's state, in the pay API and the citizen's own list
                            "OrderStateEnum": "apps.payments.models.Order.State"},
}

# --- map ------------------------------------------------------------------------------------
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (31.57, 120.30),
    "DEFAULT_ZOOM": 12,
    "MIN_ZOOM": 8,
    "MAX_ZOOM": 19,
    "TILES": [("OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", {"attribution": "© OpenStreetMap"})],
    "RESET_VIEW": False,
}
MAP_TILES = env.MAP_TILES
TIANDITU_KEY = env.TIANDITU_KEY

# --- browser security headers (apps/common/security.py; Django's SecurityMiddleware sends the rest) ---
def _tile_hosts() -> list[str]:
    """Where the map's base layer comes from (apps.realtime.views.tile_layers): img-src allows it."""
    from urllib.parse import urlsplit

    url = LEAFLET_CONFIG["TILES"][0][1]
    hosts = [f"{urlsplit(url).scheme}://{urlsplit(url).hostname.replace('{s}.', '*.')}"]
    if MAP_TILES == "tianditu":
        hosts.append("https://*.tianditu.gov.cn")  # t0…t7, the {s} of its WMTS URL
    return hosts


CSP_DIRECTIVES = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],  # every script is a file under static/; an inline one needs the request's nonce
    "style-src": ["'self'"],
    # style="…" attributes cannot run script; Django's and simple_history's admin templates use a few.
    "style-src-attr": ["'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:", *_tile_hosts()],  # data: Leaflet's and the QR codes' inline images
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],  # the API and the map's WebSocket, on this host
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
}
CSP_REPORT_ONLY = env.CSP_REPORT_ONLY
# The map asks where the driver is (nearest lots); nothing asks for the camera, microphone or payment API.
PERMISSIONS_POLICY = "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- platform -------------------------------------------------------------------------------
# Fernet key for device secrets: HMAC verification needs the secret itself, so it is kept
# encrypted at rest (never in plain text) rather than hashed.
DEVICE_SECRET_FERNET_KEY = base64.urlsafe_b64encode(
    hashlib.sha256((env.DEVICE_SECRET_KEY or SECRET_KEY).encode()).digest()
)
# Privacy (PIPL, docs/privacy.md): a finished stay whose money is settled keeps its plate in clear
# this many days, then the plate becomes a salted hash (apps.sessions.retention, the purge-plates task).
SESSION_PLATE_RETENTION_DAYS = int(env.SESSION_PLATE_RETENTION_DAYS or 180)
PLATE_HASH_SALT = env.PLATE_HASH_SALT or hashlib.sha256(("plate-hash:" + SECRET_KEY).encode()).hexdigest()
INGEST_MAX_BODY_BYTES = 1024 * 1024
INGEST_MAX_EVENTS = 1000
INGEST_TIMESTAMP_TOLERANCE_S = 300
INGEST_NONCE_TTL_S = 600
INGEST_MAX_FUTURE_S = 300
LOT_OFFLINE_AFTER_S = 600
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# With DEBUG (the demo city) and no account configured, a demo account: `manage.py wechat_message`
# then talks to /wechat/ as WeChat would. Production refuses DEBUG, so never there.
_WECHAT_DEMO = DEBUG and not env.WECHAT_TOKEN
WECHAT_TOKEN = "wuxi-demo-wechat-token" if _WECHAT_DEMO else env.WECHAT_TOKEN
WECHAT_APP_ID = "wx00000000demo0000" if _WECHAT_DEMO else env.WECHAT_APP_ID
WECHAT_APP_SECRET = env.WECHAT_APP_SECRET
WECHAT_ENCODING_AES_KEY = ("wuxiDemoEncodingAesKey0123456789abcdefghijk" if _WECHAT_DEMO
                           else env.WECHAT_ENCODING_AES_KEY)
WECHAT_API_BASE = env.WECHAT_API_BASE.rstrip("/")
WECHAT_MINI_APP_ID = env.WECHAT_MINI_APP_ID
WECHAT_MINI_APP_SECRET = env.WECHAT_MINI_APP_SECRET
WECHAT_SITE_URL = env.WECHAT_SITE_URL.rstrip("/")
WECHAT_NOTICE_TEMPLATES = json.loads(env.WECHAT_NOTICE_TEMPLATES) if env.WECHAT_NOTICE_TEMPLATES else {}
WECHAT_NOTICES = env.WECHAT_NOTICES
# Payment channels (SPEC §7; apps/payments/providers/): read from the environment only.
WECHAT_PAY_MCH_ID = env.WECHAT_PAY_MCH_ID
WECHAT_PAY_APP_ID = env.WECHAT_PAY_APP_ID
WECHAT_PAY_APIV3_KEY = env.WECHAT_PAY_APIV3_KEY
WECHAT_PAY_MCH_PRIVATE_KEY = env.WECHAT_PAY_MCH_PRIVATE_KEY
WECHAT_PAY_MCH_SERIAL = env.WECHAT_PAY_MCH_SERIAL
WECHAT_PAY_PUBLIC_KEY = env.WECHAT_PAY_PUBLIC_KEY
WECHAT_PAY_PUBLIC_KEY_ID = env.WECHAT_PAY_PUBLIC_KEY_ID
WECHAT_PAY_API_BASE = env.WECHAT_PAY_API_BASE
ALIPAY_APP_ID = env.ALIPAY_APP_ID
ALIPAY_PRIVATE_KEY = env.ALIPAY_PRIVATE_KEY
ALIPAY_PUBLIC_KEY = env.ALIPAY_PUBLIC_KEY
ALIPAY_SELLER_ID = env.ALIPAY_SELLER_ID
ALIPAY_API_BASE = env.ALIPAY_API_BASE
UNIONPAY_MER_ID = env.UNIONPAY_MER_ID
UNIONPAY_SIGN_KEY = env.UNIONPAY_SIGN_KEY
UNIONPAY_SIGN_CERT_ID = env.UNIONPAY_SIGN_CERT_ID
UNIONPAY_VERIFY_KEY = env.UNIONPAY_VERIFY_KEY
UNIONPAY_API_BASE = env.UNIONPAY_API_BASE
ETC_MERCHANT_ID = env.ETC_MERCHANT_ID
ETC_KEY = env.ETC_KEY
ETC_API_BASE = env.ETC_API_BASE
# Seconds a callback's signed timestamp may be off before it is refused as stale (a replay).
PAYMENT_NOTICE_MAX_AGE_S = 300
PAYMENT_SANDBOX = env._bool(env.PAYMENT_SANDBOX, default=True)
PUBLIC_BASE_URL = env.PUBLIC_BASE_URL

# /metrics (wuxi_parking/ops.py): a bearer token or an allowed client network; loopback by default here.
METRICS_TOKEN = env.METRICS_TOKEN
METRICS_ALLOW_FROM = env.METRICS_ALLOW_FROM if env.METRICS_ALLOW_FROM is not None else ["127.0.0.1/32", "::1/128"]
# How often each process sends its counts to the shared store (apps.common.metrics).
METRICS_FLUSH_SECONDS = 5.0
READYZ_TIMEOUT_S = 2.0

LOG_FORMAT = env.LOG_FORMAT or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise env.ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "apps.common.logging.JsonFormatter"}},
    "filters": {"one_line_refusals": {"()": "apps.common.logging.OneLineRefusals"},
                "request_id": {"()": "apps.common.logging.RequestIdFilter"},
                "mask_plates": {"()": "apps.common.logging.MaskPlates"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                             "filters": ["one_line_refusals", "request_id", "mask_plates"]}},
    "root": {"handlers": ["console"], "level": env.LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # django-axes says every successful login and cleanup at INFO (its AccessLog table keeps them);
        # failures and lockouts are warnings.
        "axes": {"level": "WARNING"},
        "django.channels.server": {"level": "INFO" if env.LOG_ACCESS else "WARNING"},
        # One line a request with its id, status and duration (RequestIdMiddleware), with LOG_ACCESS.
        "apps.common.requests": {"level": "INFO" if env.LOG_ACCESS else "WARNING"},
    },
}
