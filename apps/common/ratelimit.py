"""Rate limits on the platform's outside faces, counted on the shared cache (Redis in production).

One middleware rather than DRF throttles: the faces to limit are DRF views (the public, citizen and
ingest APIs, Open311) and plain Django views (the gateways' callbacks, the WeChat webhook) alike,
and DRF's own ``SimpleRateThrottle`` keeps a list of timestamps it reads and writes back, which
two workers racing on one key both pass. Here each client key has a fixed-window counter moved
with the cache's atomic ``incr`` (Redis ``INCR``), so N workers share one count.

A face is chosen by path (``RATE_LIMITS`` in settings names each face's limit and window):

- ``public``   ``/api/v1/...``             by client address
- ``citizen``  ``/api/v1/me/...``          by the citizen: the logged-in user, or the DRF token sent
- ``ingest``   ``/api/v1/ingest/...``      by the device's ``X-Access-Key`` and its address, so one
  who copies a key from elsewhere cannot spend the lot's own allowance
- ``callback`` ``/payments/notify/<p>/``   by provider and address, with a high limit: a gateway that
  retries a notice it had no answer for, or delivers a morning's backlog, must not be refused
  the notices that follow (they are idempotent here; refusing them only delays a driver's exit)
- ``open311``  ``/open311/v2/...``         by client address (errors in Open311's own array)
- ``wechat``   ``/wechat/``                by address (WeChat's servers: a high limit)

The staff API and the admin are not limited here (logins are, by django-axes). The client address
is ``REMOTE_ADDR`` (daphne/uvicorn ``--proxy-headers`` set it from nginx's header), or the header
named by ``RATE_LIMIT_CLIENT_IP_HEADER`` when the deployment says its proxy sets one; no other
header is believed. When the cache fails the request goes through (fail open) and the outage is
logged once a minute: a limiter must never be what takes the platform down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import JsonResponse

from .errors import error_body
from .outage import Outage

logger = logging.getLogger(__name__)

outage = Outage(logger, service="the rate limiter's cache", consequence="requests are let through unlimited")

RATE_LIMITED_MESSAGE = "请求过于频繁，请稍后再试 / too many requests, retry later"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int = 0
    limit: int = 0
    retry_after: int = 0


def client_ip(request) -> str:
    header = getattr(settings, "RATE_LIMIT_CLIENT_IP_HEADER", "")
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        # The proxy appends the address it saw last: only that entry is the proxy's word.
        forwarded = value.split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or "unknown"


def known_client_ip(request) -> str | None:
    """``client_ip``, or None when the request has no address (django-axes stores it in an IP field)."""
    address = client_ip(request)
    return None if address == "unknown" else address


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def hit(scope: str, ident: str, *, limit: int, window: int, now: float | None = None) -> Decision:
    """Count one request of ``ident`` in ``scope``'s current window; allowed while the count is at most
    ``limit``. A cache failure allows it (and is logged)."""
    now = time.time() if now is None else now
    index = int(now // window)
    key = f"rl:{scope}:{_digest(ident)}:{index}"
    retry_after = max(1, math.ceil((index + 1) * window - now))
    cache = caches[getattr(settings, "RATE_LIMIT_CACHE", "default")]
    try:
        # add() sets the window's counter only if absent; incr() is atomic on Redis and locmem. A key that
        # expired between the two is added again with this request counted.
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.add(key, 1, timeout=window + 1)
            count = 1
    except Exception as exc:  # the cache is down or refusing: never block on it
        outage.failed(exc)
        return Decision(True)
    outage.answered()
    return Decision(count <= limit, count, limit, retry_after)


def _bearer_token(request) -> str:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    kind, _, value = auth.partition(" ")
    return value.strip() if kind.lower() == "token" and value.strip() else ""


def classify(request) -> tuple[str, str] | None:
    """(face, client key) of a request the limits cover; None for one they do not."""
    path = request.path_info
    if path.startswith("/api/v1/ingest/"):
        return "ingest", f"{request.META.get('HTTP_X_ACCESS_KEY', '')[:64]}|{client_ip(request)}"
    if path.startswith("/api/v1/me/"):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return "citizen", f"user:{user.pk}"
        token = _bearer_token(request)  # DRF tokens are one a user: the token is the citizen
        return "citizen", f"token:{token}" if token else f"ip:{client_ip(request)}"
    if path.startswith("/api/v1/staff/"):
        return None
    if path.startswith("/api/v1/"):
        return "public", client_ip(request)
    if path.startswith("/payments/notify/"):
        provider = path[len("/payments/notify/"):].split("/", 1)[0][:32]
        return "callback", f"{provider}|{client_ip(request)}"
    if path.startswith("/open311/"):
        return "open311", client_ip(request)
    if path == "/wechat/":
        return "wechat", client_ip(request)
    return None


def rate_limited_response(face: str, decision: Decision):
    headers = {"Retry-After": str(decision.retry_after)}
    if face == "open311":  # Open311's error array (SPEC §7), with the same status and header
        response = JsonResponse([{"code": 429, "description": RATE_LIMITED_MESSAGE}], status=429, safe=False)
    else:
        response = JsonResponse(error_body("rate_limited", RATE_LIMITED_MESSAGE,
                                           {"limit": decision.limit, "retry_after_s": decision.retry_after}),
                                status=429)
    for name, value in headers.items():
        response[name] = value
    return response


class RateLimitMiddleware:
    """After authentication (a citizen's session is known), before CSRF and the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limits = getattr(settings, "RATE_LIMITS", {})
        if getattr(settings, "RATE_LIMIT_ENABLED", True) and limits:
            classified = classify(request)
            if classified is not None and classified[0] in limits:
                face, ident = classified
                limit, window = limits[face]
                decision = hit(face, ident, limit=limit, window=window)
                if not decision.allowed:
                    logger.info("rate limited: %s %s (%d in %d s)", face, request.path_info, decision.count, window)
                    return rate_limited_response(face, decision)
        return self.get_response(request)
