"""Issue 12 item 6: request ids and structured logs, /healthz, /readyz and /metrics (wuxi_parking/ops.py)."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import override_settings
from django.urls import include, path
from django.utils import timezone

from apps.common import metrics
from apps.common.logging import JsonFormatter, RequestIdFilter
from apps.common.observability import note_outcome
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, signed_post
from tests.outages import UNREACHABLE_REDIS_CACHES
from wuxi_parking import ops

pytestmark = pytest.mark.django_db

SERIES = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    """/metrics parsed: {(name, labels): value}; every line must be a comment or a well-formed sample."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.content.decode().splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        match = SERIES.match(line)
        assert match, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


# --- /healthz and /readyz -----------------------------------------------------------------------
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready",
                               "checks": {"database": "ok", "cache": "ok", "channel_layer": "ok"}}


@override_settings(CACHES=UNREACHABLE_REDIS_CACHES)
def test_readyz_is_503_naming_the_cache_when_redis_is_down(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["details"] == {"failed": ["cache"],
                                "checks": {"database": "ok", "cache": "failed", "channel_layer": "ok"}}


@override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                               "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}},
                   READYZ_TIMEOUT_S=1.0)
def test_readyz_is_503_naming_the_channel_layer_when_it_cannot_be_reached(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["failed"] == ["channel_layer"]


def test_readyz_is_503_naming_the_database_when_it_fails(client):
    from django.db import connection

    # A database that refuses every statement: the real backend, given a query it cannot run.
    def refuse(execute, sql, params, many, context):
        from django.db import OperationalError
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(refuse):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["failed"] == ["database"]


# --- request ids and JSON logs ------------------------------------------------------------------
@pytest.fixture
def json_lines():
    """Capture what the root logger writes, formatted as production does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    requests_logger = logging.getLogger("apps.common.requests")
    old_level = requests_logger.level
    requests_logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    requests_logger.setLevel(old_level)
    root.removeHandler(handler)


def log_and_answer(request):
    logging.getLogger("tests.view").warning("inside the view", extra={"lot": "LX-1"})
    return HttpResponse("ok")


def fake_provider_notice(request):
    """A provider callback as payments will write one: 204 on success, 4xx FAIL, a duplicate named."""
    if request.GET.get("bad"):
        return JsonResponse({"code": "FAIL", "message": "bad signature"}, status=400)
    if request.GET.get("dup"):
        note_outcome(request, "duplicate")
        return JsonResponse({})
    return HttpResponse(status=204)


urlpatterns = [path("logs", log_and_answer), path("healthz", log_and_answer),
               path("metrics", ops.metrics_view),
               path("payments/notify/", include([path("fakepay/", fake_provider_notice)]))]


@override_settings(ROOT_URLCONF=__name__)
def test_the_proxys_request_id_is_kept_logged_and_returned(client, json_lines):
    response = client.get("/logs", HTTP_X_REQUEST_ID="9f0c2b7e4d1a4c3b8e6f5a2d1c0b9a87")
    assert response["X-Request-ID"] == "9f0c2b7e4d1a4c3b8e6f5a2d1c0b9a87"
    lines = json_lines()
    view_line = next(line for line in lines if line["message"] == "inside the view")
    assert view_line["request_id"] == "9f0c2b7e4d1a4c3b8e6f5a2d1c0b9a87"
    assert view_line["level"] == "WARNING" and view_line["logger"] == "tests.view" and view_line["lot"] == "LX-1"
    access = next(line for line in lines if line["logger"] == "apps.common.requests")
    assert access["request_id"] == view_line["request_id"]
    assert access["status"] == 200 and access["path"] == "/logs" and access["duration_ms"] >= 0


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("given", [None, "", "two words", "x" * 129, "id\nforged line", "trailing-newline\n"])
def test_a_missing_or_unusable_request_id_is_replaced(client, json_lines, given):
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    response = client.get("/logs", **headers)
    rid = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    assert next(line for line in json_lines() if line["message"] == "inside the view")["request_id"] == rid


def test_two_requests_get_two_ids_and_lines_outside_a_request_carry_none(client, json_lines):
    first, second = client.get("/healthz")["X-Request-ID"], client.get("/healthz")["X-Request-ID"]
    assert first != second
    logging.getLogger("tests.outside").warning("no request here")
    assert next(line for line in json_lines() if line["message"] == "no request here")["request_id"] == "-"


def test_a_traceback_is_one_json_string():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed here" and "ValueError: boom" in entry["exc"]


# --- /metrics: who may read it ------------------------------------------------------------------
@override_settings(METRICS_TOKEN="scrape-token-1234", METRICS_ALLOW_FROM=[])
def test_metrics_needs_the_token_when_no_address_is_allowed(client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics").json()["error"]["code"] == "permission_denied"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-token-1234").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-1234").status_code == 200


@override_settings(METRICS_TOKEN="", METRICS_ALLOW_FROM=["10.8.0.0/16"])
def test_metrics_admits_an_allowed_network_by_its_socket_address_only(client):
    assert client.get("/metrics", REMOTE_ADDR="10.8.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    # A forwarded header is the client's word, not where the request came from.
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.8.3.4",
                      HTTP_X_REAL_IP="10.8.3.4").status_code == 403
    # No token configured: no header opens it.
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 403


# --- /metrics: the figures ----------------------------------------------------------------------
def test_ingest_results_are_counted_by_status_and_reject_code(client, api_client):
    lot = LotFactory(total_berths=10, free_berths=10)
    device, secret = DeviceFactory.issue(lots=[lot])
    other = LotFactory()
    before = scrape(client)
    good = entry_event(lot, "苏B12345")
    response = signed_post(api_client, device, secret, {"events": [
        good, good, entry_event(other, "苏B12346"), entry_event(lot, "not a plate")]})
    assert response.json()["accepted"] == 1 and response.json()["rejected"] == 2
    assert signed_post(api_client, device, "wrong-secret", {"events": [entry_event(lot, "苏B1")]}).status_code == 401
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("wxp_ingest_events_total", status="accepted") == 1
    assert delta("wxp_ingest_events_total", status="duplicate") == 1
    assert delta("wxp_ingest_events_total", status="rejected") == 2
    assert delta("wxp_ingest_rejects_total", scope="event", code="lot_not_allowed") == 1
    assert delta("wxp_ingest_rejects_total", scope="event", code="invalid_plate") == 1
    assert delta("wxp_ingest_rejects_total", scope="request", code="bad_signature") == 1
    assert delta("wxp_ingest_requests_total", status=200) == 1
    assert delta("wxp_ingest_requests_total", status=401) == 1
    assert delta("wxp_http_requests_total", audience="ingest", status=200) == 1
    assert delta("wxp_http_request_duration_seconds_count", audience="ingest") == 2


@override_settings(ROOT_URLCONF=__name__)
def test_payment_notices_are_counted_by_provider_and_outcome(client):
    before = scrape(client)
    assert client.post("/payments/notify/fakepay/").status_code == 204
    assert client.post("/payments/notify/fakepay/?bad=1").status_code == 400
    assert client.post("/payments/notify/fakepay/?dup=1").status_code == 200
    assert client.post("/payments/notify/invented-by-anyone/").status_code == 404  # not routed: not counted
    after = scrape(client)
    for outcome in ("accepted", "refused", "duplicate"):
        assert (value(after, "wxp_payment_notices_total", provider="fakepay", outcome=outcome)
                - value(before, "wxp_payment_notices_total", provider="fakepay", outcome=outcome)) == 1, outcome
    assert not any(name == "wxp_payment_notices_total" and ("provider", "invented-by-anyone") in labels
                   for name, labels in after)


def test_offline_lots_are_read_at_scrape_time_by_region(client, city):
    from apps.lots.models import ParkingLot
    from apps.regions.models import Region

    binhu = Region.objects.get(code="320211")
    silent = timezone.now() - timedelta(minutes=30)
    LotFactory(region=binhu, offline_since=silent, last_seen_at=silent)
    LotFactory(region=binhu, offline_since=silent, last_seen_at=silent)
    LotFactory(region=binhu, offline_since=silent, status=ParkingLot.Status.CLOSED)  # closed wins over offline
    LotFactory(region=binhu)
    samples = scrape(client)
    assert value(samples, "wxp_lots_offline", region="320211") == 2
    assert value(samples, "wxp_lots_offline") == 2


def test_a_histogram_and_a_gauge_render_in_the_exposition_format(client):
    metrics.describe("wxp_test_seconds", "histogram", "a test histogram", buckets=(0.1, 1.0))
    metrics.observe("wxp_test_seconds", 0.05, {"kind": "a"})
    metrics.observe("wxp_test_seconds", 0.5, {"kind": "a"})
    metrics.observe("wxp_test_seconds", 7, {"kind": "a"})
    text = client.get("/metrics").content.decode()
    assert "# TYPE wxp_test_seconds histogram" in text
    assert "# TYPE wxp_ws_viewers gauge" in text
    samples = scrape(client)
    buckets = [value(samples, "wxp_test_seconds_bucket", kind="a", le=le) for le in ("0.1", "1", "+Inf")]
    assert buckets[0] >= 1 and buckets[1] - buckets[0] >= 1 and buckets[2] - buckets[1] >= 1
    assert value(samples, "wxp_test_seconds_count", kind="a") == buckets[2]
    assert value(samples, "wxp_ws_viewers") >= 0


def test_label_values_are_escaped():
    text = metrics.render({("wxp_x_total", (("code", 'a"b\\c\nd'),)): 3})
    assert 'wxp_x_total{code="a\\"b\\\\c\\nd"} 3' in text
