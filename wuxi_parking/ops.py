"""What operators and their load balancer ask a worker (issue 12 item 6), outside any audience's API:

- ``GET /healthz``: the process is alive and serving (no I/O at all: a liveness probe must not fail
  because the database is slow, or every worker would be restarted at once).
- ``GET /readyz``: the database, the cache (Redis) and the channel layer answer; 503 with SPEC §1's
  body naming the ones that failed, so a load balancer takes the worker out of rotation.
- ``GET /metrics``: Prometheus' text format. Counted figures come from ``apps.common.metrics``
  (shared by every worker through Redis); offline lots and the task queue depth are read at scrape
  time. Not public: allowed for a bearer token (``METRICS_TOKEN``) or a client address in
  ``METRICS_ALLOW_FROM``; the address is the socket's (``REMOTE_ADDR``), never a forwarded header.

These live here, in the project package, because they read every layer (lots, the channel layer
through apps.realtime, Celery's broker); no app needs to import them.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.common import metrics
from apps.common.errors import error_body
from apps.common.observability import open_sockets
from apps.lots.models import ParkingLot
from apps.realtime.health import channel_layer_round_trip

logger = logging.getLogger(__name__)

metrics.describe("wxp_push_lag_seconds", "histogram",
                 "Occupancy push lag: from publish to a worker's hub, across the channel layer",
                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
metrics.describe("wxp_lots_offline", "gauge", "Lots offline now (silent for 10 minutes), by region code")
metrics.describe("wxp_task_queue_length", "gauge", "Celery tasks waiting in the broker, by queue")


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = "readyz:probe"
    cache.set(key, "1", timeout=10)  # the real cache, not the wrappers that swallow its failures
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was stored")


def _channel_layer() -> None:
    channel_layer_round_trip(timeout=float(getattr(settings, "READYZ_TIMEOUT_S", 2.0)))


CHECKS: dict[str, Callable[[], None]] = {"database": _database, "cache": _cache, "channel_layer": _channel_layer}


def readiness() -> dict[str, str]:
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = "failed"
        else:
            results[name] = "ok"
    return results


@never_cache
@require_GET
def readyz(request):
    results = readiness()
    failed = [name for name, result in results.items() if result != "ok"]
    if not failed:
        return JsonResponse({"status": "ready", "checks": results})
    body = error_body("not_ready", _("服务未就绪：%(failed)s 无响应") % {"failed": ", ".join(failed)},
                      {"failed": failed, "checks": results})
    response = JsonResponse(body, status=503)
    response["Retry-After"] = "5"
    return response


# --- /metrics -------------------------------------------------------------------------------
def metrics_allowed(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False)
               for net in getattr(settings, "METRICS_ALLOW_FROM", ()))


def _scraped() -> dict[metrics.SeriesKey, float]:
    """The figures read now rather than counted: offline lots and the task queue."""
    series: dict[metrics.SeriesKey, float] = {}
    rows = (ParkingLot.objects.filter(offline_since__isnull=False).filter(~Q(status=ParkingLot.Status.CLOSED))
            .values("region__code").annotate(n=Count("pk")).order_by())
    series[("wxp_lots_offline", ())] = 0
    for row in rows:
        series[("wxp_lots_offline", (("region", row["region__code"] or ""),))] = row["n"]
        series[("wxp_lots_offline", ())] = series[("wxp_lots_offline", ())] + row["n"]
    for queue, length in _queue_lengths().items():
        series[("wxp_task_queue_length", (("queue", queue),))] = length
    return series


def _queue_lengths() -> dict[str, int]:
    """Celery on Redis keeps a queue's waiting tasks in a list named after the queue."""
    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) or not settings.CELERY_BROKER_URL.startswith("redis"):
        return {}  # tasks run in the caller: nothing ever waits
    import redis

    queues = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in sorted(queues):
            pipe.llen(queue)
        return dict(zip(sorted(queues), pipe.execute(), strict=True))
    except redis.RedisError as exc:
        logger.warning("reading the task queue length failed: %s", exc)
        return {}
    finally:
        client.close()


@never_cache
@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        return JsonResponse(error_body("permission_denied", _("无权访问监控指标")), status=403)
    started = time.monotonic()
    metrics.gauge("wxp_ws_viewers", open_sockets())  # this worker's, even if no socket moved since it started
    counted, gauges = metrics.collect()
    series = {**counted, **gauges, **_scraped()}
    series[("wxp_metrics_scrape_seconds", ())] = time.monotonic() - started
    return HttpResponse(metrics.render(series), content_type="text/plain; version=0.0.4; charset=utf-8")
