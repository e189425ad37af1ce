"""SPEC §4 ``forecast`` on every public lot read: the list, the detail, nearest and the GeoJSON, read
through the port apps.lots.forecasts as part of the lots' own query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.analytics.models import LotForecast
from apps.lots import forecasts
from tests.factories import LotFactory, OperatorFactory, TariffFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/lots/"
GEOJSON = "/api/v1/map/lots.geojson"
PREDICTED = {"in_15_min": 14, "in_30_min": 12, "in_60_min": 9}


@pytest.fixture
def two_lots(city):
    with_forecast = LotFactory(code="LX-F1", region=city["320213"], total_berths=40, free_berths=15,
                               lat=31.5800, lon=120.3000)
    without = LotFactory(code="LX-F2", region=city["320213"], total_berths=40, free_berths=15,
                         lat=31.5810, lon=120.3010)
    LotForecast.objects.create(lot=with_forecast, made_at=timezone.now() - timedelta(minutes=2), **PREDICTED)
    return with_forecast, without


def _by_code(items):
    return {item["code"]: item for item in items}


def test_every_public_read_carries_the_forecast_or_null(api_client, two_lots):
    listed = _by_code(api_client.get(LIST).json()["results"])
    assert listed["LX-F1"]["forecast"] == PREDICTED
    assert list(listed["LX-F1"]["forecast"]) == ["in_15_min", "in_30_min", "in_60_min"]
    assert listed["LX-F2"]["forecast"] is None
    assert list(listed["LX-F1"])[-1] == "forecast"

    assert api_client.get("/api/v1/lots/LX-F1/").json()["forecast"] == PREDICTED
    assert api_client.get("/api/v1/lots/LX-F2/").json()["forecast"] is None

    nearest = _by_code(api_client.get("/api/v1/lots/nearest", {"lat": 31.58, "lon": 120.30}).json())
    assert nearest["LX-F1"]["forecast"] == PREDICTED and nearest["LX-F2"]["forecast"] is None
    assert isinstance(nearest["LX-F1"]["distance_m"], int)

    features = {f["id"]: f["properties"] for f in api_client.get(GEOJSON).json()["features"]}
    assert features["LX-F1"]["forecast"] == PREDICTED
    assert features["LX-F2"]["forecast"] is None


def test_the_database_paths_answer_as_the_snapshot_does(api_client, two_lots):
    """A filter the snapshot does not take (page_size past a page, ordering…) reads through the
    serializer; the browsable-free JSON path and it agree."""
    from apps.lots.api.serializers import LotSerializer
    from apps.lots.selectors import lots_nearest, public_lots

    serialized = _by_code(LotSerializer(public_lots().order_by("code"), many=True).data)
    assert serialized["LX-F1"]["forecast"] == PREDICTED and serialized["LX-F2"]["forecast"] is None
    (nearest,) = lots_nearest(queryset=public_lots(), lat=31.58, lon=120.30, limit=1)
    assert nearest.public_forecast == PREDICTED


def test_a_forecast_the_refresh_stopped_rewriting_is_not_shown(api_client, two_lots):
    with_forecast, _ = two_lots
    LotForecast.objects.filter(lot=with_forecast).update(made_at=timezone.now() - timedelta(minutes=16))
    assert _by_code(api_client.get(LIST).json()["results"])["LX-F1"]["forecast"] is None
    assert api_client.get("/api/v1/lots/LX-F1/").json()["forecast"] is None


def test_with_no_forecast_source_every_lot_says_null(api_client, two_lots):
    forecasts.register_forecast_source(None)  # the registry alone, without apps.analytics
    assert {item["forecast"] for item in api_client.get(LIST).json()["results"]} == {None}
    assert api_client.get("/api/v1/lots/LX-F1/").json()["forecast"] is None


def test_staff_see_the_forecast_too(api_client, two_lots, staff_factory):
    api_client.force_authenticate(staff_factory("city"))
    listed = _by_code(api_client.get("/api/v1/staff/lots/").json()["results"])
    assert listed["LX-F1"]["forecast"] == PREDICTED and listed["LX-F2"]["forecast"] is None


def test_forecasts_cost_no_query_more_whatever_the_rows(api_client, city, django_assert_num_queries):
    for n in range(3):
        lot = LotFactory(tariff=TariffFactory(), operator=OperatorFactory())
        LotForecast.objects.create(lot=lot, made_at=timezone.now(), in_15_min=n, in_30_min=n, in_60_min=n)
    with django_assert_num_queries(1):
        assert len(api_client.get(GEOJSON).json()["features"]) == 3
    for n in range(30):
        lot = LotFactory(tariff=TariffFactory(), operator=OperatorFactory())
        LotForecast.objects.create(lot=lot, made_at=timezone.now(), in_15_min=n, in_30_min=n, in_60_min=n)
    cache.clear()
    with django_assert_num_queries(1):
        assert len(api_client.get(GEOJSON).json()["features"]) == 33
    with django_assert_num_queries(0):
        results = api_client.get(LIST, {"page_size": 100}).json()["results"]
    assert sum(item["forecast"] is not None for item in results) == 33
    code = results[-1]["code"]
    api_client.get(f"/api/v1/lots/{code}/")  # fills the cached set of lots with booking sites (the card's rules)
    with django_assert_num_queries(1):
        assert api_client.get(f"/api/v1/lots/{code}/").json()["forecast"] is not None


@pytest.mark.parametrize("raw", [None, [], {"in_15_min": 1}, {"in_15_min": -1, "in_30_min": 1, "in_60_min": 1},
                                 {"in_15_min": True, "in_30_min": 1, "in_60_min": 1}, "12"])
def test_anything_but_three_whole_numbers_reads_as_null(raw):
    assert forecasts.forecast_value(raw) is None


def test_the_three_horizons_are_given_in_spec_order():
    assert list(forecasts.forecast_value({"in_60_min": 3, "in_15_min": 1, "in_30_min": 2})) == [
        "in_15_min", "in_30_min", "in_60_min"]
