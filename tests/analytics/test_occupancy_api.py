"""GET /api/v1/open/lots/<code>/occupancy: a lot's hourly occupancy, up to 90 days, no plate."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.analytics.models import LotHour
from apps.lots.fees import SHANGHAI
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 19, 10, 2, tzinfo=SHANGHAI)


def url(code: str) -> str:
    return f"/api/v1/open/lots/{code}/occupancy"


def hour(lot, moment, *, avg, top, samples=12, total=100):
    return LotHour.objects.create(lot=lot, hour=moment, weekday=moment.weekday(), hour_of_day=moment.hour,
                                  total_berths=total, occupied_avg=avg, occupied_max=top, samples=samples)


@pytest.fixture
def history():
    lot = LotFactory(code="LX-HIST", total_berths=100)
    other = LotFactory(total_berths=100)
    for days_ago in (0, 3, 8, 91):
        hour(lot, NOW.replace(minute=0) - timedelta(days=days_ago, hours=1), avg=40.333, top=55)
    hour(lot, NOW.replace(minute=0) - timedelta(hours=2), avg=0, top=0, samples=0)  # offline all hour
    hour(other, NOW.replace(minute=0) - timedelta(hours=1), avg=99, top=100)
    return lot


@time_machine.travel(NOW, tick=False)
def test_default_is_the_last_seven_days_oldest_first(api_client, history):
    response = api_client.get(url("lx-hist"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["lot_code"] == "LX-HIST"
    assert body["from"] == "2026-03-12T10:00:00+08:00" and body["to"] == "2026-03-19T10:02:00+08:00"
    assert [row["hour"] for row in body["results"]] == [
        "2026-03-16T09:00:00+08:00", "2026-03-19T08:00:00+08:00", "2026-03-19T09:00:00+08:00"]
    assert body["results"][0] == {"hour": "2026-03-16T09:00:00+08:00", "occupied_avg": 40.33, "occupied_max": 55,
                                  "total_berths": 100, "free_avg": 59.67}
    # An hour with no online sample: the lot's count was unknown, not zero.
    assert body["results"][1] == {"hour": "2026-03-19T08:00:00+08:00", "occupied_avg": None, "occupied_max": None,
                                  "total_berths": 100, "free_avg": None}


def test_a_range_with_offsets_and_its_edges(api_client, history):
    response = api_client.get(url("LX-HIST"), {"from": "2026-03-11T01:30:00Z", "to": "2026-03-19T09:00:00+08:00"})
    assert response.status_code == 200, response.content
    body = response.json()
    # from is taken from the start of its hour; to is exclusive.
    assert body["from"] == "2026-03-11T09:00:00+08:00"
    assert [row["hour"] for row in body["results"]] == ["2026-03-11T09:00:00+08:00", "2026-03-16T09:00:00+08:00",
                                                        "2026-03-19T08:00:00+08:00"]


def test_ninety_days_at_most_and_bad_times_are_spec_errors(api_client, history):
    ok = api_client.get(url("LX-HIST"), {"from": "2025-12-19T10:00:00+08:00", "to": "2026-03-19T10:00:00+08:00"})
    assert ok.status_code == 200  # exactly 90 days
    too_long = api_client.get(url("LX-HIST"), {"from": "2025-12-19T09:59:59+08:00",
                                               "to": "2026-03-19T10:00:00+08:00"})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "range_too_long"
    assert too_long.json()["error"]["details"]["field"] == "from"
    naive = api_client.get(url("LX-HIST"), {"from": "2026-03-17T09:00:00"})
    assert naive.status_code == 400 and naive.json()["error"]["details"]["field"] == "from"
    backwards = api_client.get(url("LX-HIST"), {"from": "2026-03-18T09:00:00+08:00", "to": "2026-03-17T09:00:00+08:00"})
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == "invalid_range"
    unknown = api_client.get(url("LX-HIST"), {"plate": "苏B12345"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_parameter"


def test_an_unknown_or_malformed_lot_is_a_spec_404(api_client, history):
    for code in ("NOPE", "bad%00code"):
        response = api_client.get(url(code))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_ninety_days_of_hours_in_a_fixed_number_of_queries(api_client):
    lot = LotFactory(code="LX-BIG")
    start = NOW.replace(minute=0) - timedelta(days=89)
    LotHour.objects.bulk_create([
        LotHour(lot=lot, hour=start + timedelta(hours=h), weekday=0, hour_of_day=0, total_berths=100,
                occupied_avg=10, occupied_max=12, samples=12) for h in range(0, 89 * 24, 7)])
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(url("LX-BIG"), {"from": start.isoformat(), "to": NOW.isoformat()})
    assert response.status_code == 200 and len(response.json()["results"]) == len(range(0, 89 * 24, 7))
    assert len(queries) <= 2
