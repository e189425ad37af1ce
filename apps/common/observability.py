"""Request ids and the figures counted at the platform's edge (issue 12 item 6).

- ``RequestIdMiddleware``: a request keeps the ``X-Request-ID`` its proxy gave it (nginx:
  ``proxy_set_header X-Request-ID $request_id``) or gets a new one; every log line written while it
  is served carries it (``apps.common.logging.RequestIdFilter``) and the response returns it.
- ``MetricsMiddleware``: requests by audience and status, their duration, and what the response
  says about two edges others own — ingest results (``/api/v1/ingest/``: events by status, rejects
  by code) and payment notices by provider and outcome (``/payments/notify/<provider>/``) — so
  neither the ingest nor the payments code has to count anything itself.
- ``WebSocketViewers``: the ASGI wrapper that counts this process's open sockets.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from . import metrics
from .logging import request_id

logger = logging.getLogger("apps.common.requests")

# A proxy's id is kept when it looks like one (nginx's $request_id is 32 hex digits); anything
# else (too long, spaces, control characters that would forge log lines) is replaced.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

metrics.describe("wxp_http_requests_total", "counter", "HTTP requests answered, by audience and status code")
metrics.describe("wxp_http_request_duration_seconds", "histogram", "Time to answer an HTTP request, by audience")
metrics.describe("wxp_ingest_requests_total", "counter", "Ingest requests (signed batches), by status code")
metrics.describe("wxp_ingest_events_total", "counter",
                 "Ingested events by result status (accepted, duplicate, rejected)")
metrics.describe("wxp_ingest_rejects_total", "counter",
                 "Ingest refusals by error code: per event (scope=event) or the whole request (scope=request)")
metrics.describe("wxp_payment_notices_total", "counter", "Payment provider notices, by provider and outcome")
metrics.describe("wxp_ws_viewers", "gauge", "Open WebSocket connections, over all worker processes")

AUDIENCES = (  # the mounts of wuxi_parking.urls, most specific first
    ("/api/v1/ingest/", "ingest"), ("/api/v1/staff/", "staff"), ("/api/v1/me/", "citizen"),
    ("/api/v1/", "public"), ("/payments/notify/", "providers"), ("/admin/", "admin"), ("/static/", "static"),
    ("/map/", "pages"),
)
INGEST_PREFIX = "/api/v1/ingest/"
NOTICE_PREFIX = "/payments/notify/"


def audience_of(path: str) -> str:
    return next((name for prefix, name in AUDIENCES if path.startswith(prefix)), "other")


class RequestIdMiddleware:
    """Outermost: the id is set before anything logs and returned on every response."""

    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(self.header, "")
        rid = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = rid
        token = request_id.set(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response[self.header] = rid
            if logger.isEnabledFor(logging.INFO):  # LOG_ACCESS: most requests build no log line at all
                logger.info("%s %s %s", request.method, request.path, response.status_code,
                            extra={"method": request.method, "path": request.path, "status": response.status_code,
                                   "duration_ms": round((time.monotonic() - started) * 1000, 1)})
            return response
        finally:
            request_id.reset(token)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        path = request.path_info
        audience = audience_of(path)
        metrics.count("wxp_http_requests_total", {"audience": audience, "status": response.status_code})
        metrics.observe("wxp_http_request_duration_seconds", time.monotonic() - started, {"audience": audience})
        try:
            if audience == "ingest":
                _count_ingest(response)
            elif audience == "providers" and getattr(request, "resolver_match", None) is not None:
                # Only routed paths: a label taken from a path anyone can invent would grow without bound.
                _count_notice(request, path, response)
        except Exception:  # a figure must never cost a client its answer
            logger.exception("counting %s failed", path)
        return response


def _body(response) -> dict | None:
    data = getattr(response, "data", None)  # a DRF Response: the data it rendered, no parsing
    if isinstance(data, dict):
        return data
    if response.streaming or "json" not in response.get("Content-Type", ""):
        return None
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _count_ingest(response) -> None:
    metrics.count("wxp_ingest_requests_total", {"status": response.status_code})
    body = _body(response) or {}
    if response.status_code != 200:
        code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None
        metrics.count("wxp_ingest_rejects_total", {"scope": "request", "code": code or f"http_{response.status_code}"})
        return
    for field, status in (("accepted", "accepted"), ("duplicates", "duplicate"), ("rejected", "rejected")):
        if isinstance(body.get(field), int) and body[field]:
            metrics.count("wxp_ingest_events_total", {"status": status}, by=body[field])
    if body.get("rejected"):
        codes: dict[str, int] = {}
        for result in body.get("results") or ():
            if isinstance(result, dict) and result.get("status") == "rejected":
                code = (result.get("error") or {}).get("code") or "unknown"
                codes[code] = codes.get(code, 0) + 1
        for code, n in codes.items():
            metrics.count("wxp_ingest_rejects_total", {"scope": "event", "code": code}, by=n)


def note_outcome(request, outcome: str) -> None:
    """Let a callback view name its notice's outcome (``duplicate``, ``mismatch``…) more finely than
    the status code does; the middleware counts it under that name."""
    getattr(request, "_request", request).metrics_outcome = outcome


def _count_notice(request, path: str, response) -> None:
    provider = path[len(NOTICE_PREFIX):].split("/", 1)[0] or "unknown"
    outcome = getattr(request, "metrics_outcome", None)
    if outcome is None:
        status = response.status_code
        outcome = "accepted" if status < 300 else "refused" if status < 500 else "error"
    metrics.count("wxp_payment_notices_total", {"provider": provider, "outcome": outcome})


# --- WebSocket viewers ------------------------------------------------------------------------
_open_sockets = 0


def open_sockets() -> int:
    return _open_sockets


class WebSocketViewers:
    """ASGI wrapper: counts this process's accepted WebSocket connections (``wxp_ws_viewers``).

    Counting at the ASGI edge keeps the figure out of the consumers; the gauge is memory only, sent
    to the shared store by the metrics flusher."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        accepted = False

        async def counting_send(message):
            nonlocal accepted
            if message.get("type") == "websocket.accept" and not accepted:
                accepted = True
                _moved(+1)
            await send(message)

        try:
            return await self.app(scope, receive, counting_send)
        finally:
            if accepted:
                _moved(-1)


def _moved(by: int) -> None:
    global _open_sockets
    _open_sockets += by  # one event loop per process: no lock needed
    metrics.gauge("wxp_ws_viewers", _open_sockets)
