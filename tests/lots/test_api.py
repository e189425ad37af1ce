"""The public read API (SPEC §4): list, filters, detail, nearest, the map GeoJSON."""

from __future__ import annotations

import gzip
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.common.geo import distance_m
from apps.lots.models import ParkingLot
from apps.lots.selectors import PUBLIC_STATUS_SQL
from tests.factories import CORE_ARTERIAL_RULES, LotFactory, OperatorFactory, TariffFactory

pytestmark = pytest.mark.django_db

SPEC_LOT_FIELDS = {
    "code", "name", "address", "region", "region_name", "kind", "lat", "lon", "total_berths", "free_berths",
    "ev_berths", "accessible_berths", "status", "updated_at", "opening_hours", "tariff", "operator", "forecast",
}
LIST = "/api/v1/lots/"
NEAREST = "/api/v1/lots/nearest"
GEOJSON = "/api/v1/map/lots.geojson"


def _error(response, status, code=None, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code:
        assert body["error"]["code"] == code
    if field:
        assert body["error"]["details"]["field"] == field
        assert field in body["error"]["message"]
    return body["error"]


def _codes(response):
    assert response.status_code == 200, response.content
    return [lot["code"] for lot in response.json()["results"]]


# --- the list and its representation ---------------------------------------------------------


def test_list_lot_has_exactly_the_spec_fields_with_their_values(api_client, city):
    operator = OperatorFactory(name="无锡城建停车管理有限公司")
    seen = timezone.now() - timedelta(minutes=3)
    lot = LotFactory(code="LX-A1", name="三阳广场停车场", region=city["320213"], operator=operator,
                     total_berths=200, free_berths=37, ev_berths=12, accessible_berths=4,
                     opening_hours="07:00-22:00", occupancy_updated_at=seen)

    (item,) = api_client.get(LIST).json()["results"]

    assert set(item) == SPEC_LOT_FIELDS
    assert item == {
        "code": "LX-A1", "name": "三阳广场停车场", "address": lot.address, "region": "320213",
        "region_name": "梁溪区", "kind": "off_street", "lat": lot.lat, "lon": lot.lon, "total_berths": 200,
        "free_berths": 37, "ev_berths": 12, "accessible_berths": 4, "status": "open",
        "updated_at": timezone.localtime(seen).isoformat(), "opening_hours": "07:00-22:00",
        "tariff": CORE_ARTERIAL_RULES, "operator": "无锡城建停车管理有限公司",
        "forecast": None,  # no history: tests/analytics/forecast covers a lot with one
    }
    assert item["updated_at"].endswith("+08:00")  # SPEC §1: times carry their offset


def test_lot_without_operator_or_tariff_shows_null(api_client, city):
    LotFactory(operator=None, tariff=None)
    (item,) = api_client.get(LIST).json()["results"]
    assert item["operator"] is None
    assert item["tariff"] is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "open"),
        ({"free_berths": 0}, "full"),
        ({"status": ParkingLot.Status.CLOSED}, "closed"),
        ({"offline_since": datetime(2026, 3, 1, tzinfo=UTC)}, "offline"),
        ({"status": ParkingLot.Status.CLOSED, "offline_since": datetime(2026, 3, 1, tzinfo=UTC)}, "closed"),
        ({"free_berths": 0, "offline_since": datetime(2026, 3, 1, tzinfo=UTC)}, "offline"),
    ],
)
def test_status_in_list_and_the_sql_used_by_the_map_agree_with_the_model(api_client, city, changes, expected):
    lot = LotFactory(**changes)
    assert lot.public_status == expected
    assert ParkingLot.objects.annotate(s=PUBLIC_STATUS_SQL).get(pk=lot.pk).s == expected
    assert api_client.get(LIST).json()["results"][0]["status"] == expected
    assert api_client.get(GEOJSON).json()["features"][0]["properties"]["status"] == expected


def test_closed_lots_are_listed(api_client, city):
    LotFactory(code="A", status=ParkingLot.Status.CLOSED)
    LotFactory(code="B")
    assert _codes(api_client.get(LIST)) == ["A", "B"]


def test_pagination_count_next_previous_and_page_size(api_client, city):
    for n in range(5):
        LotFactory(code=f"P-{n}")
    body = api_client.get(LIST, {"page_size": 2, "page": 2}).json()
    assert body["count"] == 5
    assert [lot["code"] for lot in body["results"]] == ["P-2", "P-3"]
    assert "page=3" in body["next"]
    assert "page_size=2" in body["next"]
    assert body["previous"] is not None
    last = api_client.get(LIST, {"page_size": 2, "page": 3}).json()
    assert last["next"] is None
    assert [lot["code"] for lot in last["results"]] == ["P-4"]


def test_page_size_up_to_1000(api_client, city):
    LotFactory()
    assert api_client.get(LIST, {"page_size": 1000}).status_code == 200
    _error(api_client.get(LIST, {"page_size": 1001}), 400, "invalid", "page_size")
    _error(api_client.get(LIST, {"page_size": "ten"}), 400, "invalid", "page_size")
    _error(api_client.get(LIST, {"page_size": 0}), 400, "invalid", "page_size")


def test_bad_page_is_400_and_a_page_past_the_end_however_far_is_an_empty_page(api_client, city,
                                                                             django_assert_max_num_queries):
    for n in range(3):
        LotFactory(code=f"P-{n}")
    _error(api_client.get(LIST, {"page": "abc"}), 400, "invalid", "page")
    _error(api_client.get(LIST, {"page": 0}), 400, "invalid", "page")
    _error(api_client.get(LIST, {"page": "1e3"}), 400, "invalid", "page")
    # Past the end, as open data's offset past the end: nothing more, whatever the number (a page beyond a
    # bigint once answered 500 on PostgreSQL); the count, and the last page as "previous".
    for page in (3, 9, 2**63, 10**30):
        with django_assert_max_num_queries(1):  # the count: no page number reaches the database
            response = api_client.get(LIST, {"page": page, "page_size": 2})
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["count"], body["next"], body["results"]) == (3, None, [])
        assert "page=2" in body["previous"] and "page_size=2" in body["previous"]
    assert [lot["code"] for lot in api_client.get(LIST, {"page": "last", "page_size": 2}).json()["results"]] == ["P-2"]


def test_an_empty_list_has_an_empty_first_page_and_nothing_after(api_client, city):
    assert api_client.get(LIST).json() == {"count": 0, "next": None, "previous": None, "results": []}
    body = api_client.get(LIST, {"page": 2}).json()
    assert (body["count"], body["next"], body["results"]) == (0, None, [])
    assert "page=1" in body["previous"]


# --- parameters: an unknown one is named, a bad value is worded by its rule --------------------

QUOTE = "/api/v1/fees/quote"
QUOTE_OK = {"lot": "Q-1", "entry": "2026-03-17T09:00:00+08:00", "exit": "2026-03-17T10:00:00+08:00"}


@pytest.mark.parametrize(("url", "params", "name"), [
    (LIST, {"status": "bogus"}, "status"),
    (LIST, {"radius": "-5"}, "radius"),
    (LIST, {"offset": "99999999999999999999"}, "offset"),
    (LIST, {"kind": "off_street", "limit": "-1"}, "limit"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "radius": "-5"}, "radius"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "page": "2"}, "page"),  # nearest is not paginated
    (GEOJSON, {"status": "bogus"}, "status"),
    (GEOJSON, {"bbox": "1,2"}, "bbox"),
    (GEOJSON, {"page": "2"}, "page"),
    ("/api/v1/lots/Q-1/", {"verbose": "1"}, "verbose"),
    (QUOTE, {**QUOTE_OK, "coupon": "FREE"}, "coupon"),
])
def test_a_parameter_the_endpoint_does_not_take_is_400_naming_it(api_client, city, url, params, name):
    LotFactory(code="Q-1", tariff=TariffFactory())
    error = _error(api_client.get(url, params), 400, "unknown_parameter", name)
    assert name in error["message"]
    # ...and the ones it does take are listed, for the client to see its typo.
    assert isinstance(error["details"]["allowed"], list)
    assert name not in error["details"]["allowed"]


def test_every_parameter_the_endpoints_document_is_taken(api_client, city):
    LotFactory(code="Q-1", tariff=TariffFactory())
    list_params = {"region": "320200", "kind": "off_street", "has_ev": "false", "has_accessible": "false",
                   "min_free": "0", "bbox": "120,31,121,32", "q": "停车", "page": "1", "page_size": "10",
                   "format": "json"}
    assert api_client.get(LIST, list_params).status_code == 200
    nearest = {k: v for k, v in list_params.items() if k not in ("page", "page_size")}
    assert api_client.get(NEAREST, {**nearest, "lat": 31.5, "lon": 120.3, "limit": 5}).status_code == 200
    assert api_client.get(GEOJSON, {"region": "320213", "kind": "off_street"}).status_code == 200
    assert api_client.get(QUOTE, {**QUOTE_OK, "vehicle_class": "large", "new_energy": "true"}).status_code == 200
    assert api_client.get("/api/v1/lots/Q-1/", {"format": "json"}).status_code == 200


# (url, params, field): every check of one rule, on every endpoint that makes it.
INTEGER_RULES = [
    (LIST, {"min_free": "-1"}, "min_free", "须为不小于 0 的整数"),
    (LIST, {"min_free": "abc"}, "min_free", "须为不小于 0 的整数"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "min_free": "x"}, "min_free", "须为不小于 0 的整数"),
    (LIST, {"page_size": "0"}, "page_size", "须为 1 到 1000 之间的整数"),
    (LIST, {"page_size": "5000"}, "page_size", "须为 1 到 1000 之间的整数"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "limit": "-1"}, "limit", "须为 1 到 100 之间的整数"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "limit": "ten"}, "limit", "须为 1 到 100 之间的整数"),
    ("/api/v1/open/ngsi-ld/OffStreetParking", {"offset": "-1"}, "offset", "须为不小于 0 的整数"),
    ("/api/v1/open/ngsi-ld/OffStreetParking", {"limit": "0"}, "limit", "须为 1 到 10000 之间的整数"),
]
OTHER_RULES = [
    (NEAREST, {"lat": "999", "lon": 120.3}, "lat", "须为 -90 到 90 之间的数字"),
    (NEAREST, {"lat": "nan", "lon": 120.3}, "lat", "须为 -90 到 90 之间的数字"),
    (NEAREST, {"lat": 31.5, "lon": "east"}, "lon", "须为 -180 到 180 之间的数字"),
    (LIST, {"kind": "x"}, "kind", "须为 off_street、on_street 之一"),
    (GEOJSON, {"kind": "x"}, "kind", "须为 off_street、on_street 之一"),
    (QUOTE, {**QUOTE_OK, "vehicle_class": "bus"}, "vehicle_class", "须为 small、large 之一"),
    (LIST, {"has_ev": "maybe"}, "has_ev", "须为 true 或 false"),
    (NEAREST, {"lat": 31.5, "lon": 120.3, "has_accessible": "maybe"}, "has_accessible", "须为 true 或 false"),
    (QUOTE, {**QUOTE_OK, "new_energy": "maybe"}, "new_energy", "须为 true 或 false"),
    ("/api/v1/open/ngsi-ld/OffStreetParking", {"count": "maybe"}, "count", "须为 true 或 false"),
    (LIST, {"bbox": "1,2"}, "bbox", "须为 minLon,minLat,maxLon,maxLat 四个数字（逗号分隔）"),
    (LIST, {"bbox": "120,31,190,32"}, "bbox", "经度须为 -180 到 180 之间的数字"),
    (LIST, {"bbox": "120,-91,121,32"}, "bbox", "纬度须为 -90 到 90 之间的数字"),
    (LIST, {"bbox": "120,32,121,31"}, "bbox", "minLat 不能大于 maxLat"),
    (LIST, {"region": "bogus"}, "region", "区域代码为 6–12 位数字或大写字母"),
    (GEOJSON, {"region": "bogus"}, "region", "区域代码为 6–12 位数字或大写字母"),
    (LIST, {"q": "停" * 101}, "q", "不能超过 100 个字符"),
    (QUOTE, {**QUOTE_OK, "entry": "yesterday"}, "entry", "须为 ISO 8601 时间，如 2026-03-17T09:42:44+08:00"),
    (NEAREST, {"lon": 120.3}, "lat", "必填"),
    (QUOTE, {"lot": "Q-1", "exit": QUOTE_OK["exit"]}, "entry", "必填"),
]


@pytest.mark.parametrize(("url", "params", "field", "message"), INTEGER_RULES + OTHER_RULES)
def test_the_same_rule_reads_the_same_everywhere(api_client, city, url, params, field, message):
    # One wording a rule (apps.common.messages), one code for a malformed value, whichever layer checks it
    # (Django forms, DRF, the pagination): before, min_free=-1 and limit=-1 read four different ways.
    LotFactory(code="Q-1", tariff=TariffFactory())
    error = _error(api_client.get(url, params), 400, "invalid", field)
    assert error["message"] == f"{field}: {message}"


def test_unknown_region_reads_the_same_on_the_list_and_the_map(api_client, city):
    for url in (LIST, GEOJSON):
        error = _error(api_client.get(url, {"region": "999999"}), 400, "unknown_region", "region")
        assert error["message"] == "region: 未知的区域代码 999999"


def test_parameter_errors_in_english(api_client, city):
    error = _error(api_client.get(NEAREST, {"lat": 31.5, "lon": 120.3, "limit": "0"}, HTTP_ACCEPT_LANGUAGE="en"),
                   400, "invalid", "limit")
    assert error["message"] == "limit: must be an integer from 1 to 100"
    error = _error(api_client.get(LIST, {"radius": "1"}, HTTP_ACCEPT_LANGUAGE="en"), 400, "unknown_parameter")
    assert error["message"].startswith("unknown parameter radius; the parameters are: bbox")


def test_list_queries_do_not_grow_with_rows(api_client, city, django_assert_num_queries):
    """The list is read from the map's shared snapshot: one query builds it, whatever the rows,
    and a warm page costs none (a region filter looks its code up, once per request)."""
    from django.core.cache import cache

    def make(n):
        for _ in range(n):
            LotFactory(region=city["320211"], tariff=TariffFactory(), operator=OperatorFactory())

    make(5)
    with django_assert_num_queries(1):  # the snapshot, built once
        assert len(api_client.get(LIST, {"page_size": 100}).json()["results"]) == 5
    make(45)
    cache.clear()
    with django_assert_num_queries(1):
        assert len(api_client.get(LIST, {"page_size": 100}).json()["results"]) == 50
    with django_assert_num_queries(0):
        assert len(api_client.get(LIST, {"page_size": 100, "page": 1}).json()["results"]) == 50
    with django_assert_num_queries(2):  # the region and its subtree
        assert api_client.get(LIST, {"page_size": 100, "region": "320200"}).json()["count"] == 50


# --- filters ---------------------------------------------------------------------------------


def test_region_filter_includes_the_regions_below(api_client, city):
    LotFactory(code="LX", region=city["320213"])
    LotFactory(code="BH", region=city["320211"])
    LotFactory(code="JK", region=city["3202JK"])
    assert _codes(api_client.get(LIST, {"region": "320213"})) == ["LX"]
    assert _codes(api_client.get(LIST, {"region": "320200"})) == ["BH", "JK", "LX"]
    assert _codes(api_client.get(LIST, {"region": "3202jk"})) == ["JK"]


def test_unknown_or_malformed_region_is_400_naming_it(api_client, city):
    _error(api_client.get(LIST, {"region": "999999"}), 400, field="region")
    _error(api_client.get(LIST, {"region": "32"}), 400, field="region")


def test_kind_filter(api_client, city):
    LotFactory(code="OFF")
    LotFactory(code="ON", kind=ParkingLot.Kind.ON_STREET, zone_class="core", road_class="arterial")
    assert _codes(api_client.get(LIST, {"kind": "on_street"})) == ["ON"]
    assert _codes(api_client.get(LIST, {"kind": "off_street"})) == ["OFF"]
    _error(api_client.get(LIST, {"kind": "underground"}), 400, field="kind")


@pytest.mark.parametrize(("param", "field"), [("has_ev", "ev_berths"), ("has_accessible", "accessible_berths")])
def test_boolean_filters(api_client, city, param, field):
    LotFactory(code="WITH", **{field: 3})
    LotFactory(code="WITHOUT", **{field: 0})
    for yes in ("true", "True", "1"):
        assert _codes(api_client.get(LIST, {param: yes})) == ["WITH"]
    for no in ("false", "0"):
        assert _codes(api_client.get(LIST, {param: no})) == ["WITHOUT"]
    assert _codes(api_client.get(LIST, {param: ""})) == ["WITH", "WITHOUT"]
    _error(api_client.get(LIST, {param: "maybe"}), 400, "invalid", param)


def test_min_free_keeps_lots_with_enough_trustworthy_free_berths(api_client, city):
    LotFactory(code="MANY", free_berths=30)
    LotFactory(code="FEW", free_berths=2)
    LotFactory(code="FULL", free_berths=0)
    LotFactory(code="CLOSED", free_berths=50, status=ParkingLot.Status.CLOSED)
    LotFactory(code="OFFLINE", free_berths=50, offline_since=timezone.now())
    assert _codes(api_client.get(LIST, {"min_free": 5})) == ["MANY"]
    assert _codes(api_client.get(LIST, {"min_free": 1})) == ["FEW", "MANY"]
    assert len(_codes(api_client.get(LIST, {"min_free": 0}))) == 5
    _error(api_client.get(LIST, {"min_free": -1}), 400, field="min_free")
    _error(api_client.get(LIST, {"min_free": "lots"}), 400, field="min_free")


def test_bbox_filter(api_client, city):
    LotFactory(code="IN", lat=31.575, lon=120.300)
    LotFactory(code="EDGE", lat=31.560, lon=120.280)
    LotFactory(code="OUT", lat=31.700, lon=120.300)
    assert _codes(api_client.get(LIST, {"bbox": "120.28,31.56,120.31,31.60"})) == ["EDGE", "IN"]
    assert _codes(api_client.get(LIST, {"bbox": " 120.29 , 31.57 , 120.31 , 31.58 "})) == ["IN"]


@pytest.mark.parametrize("bbox", [
    "120.28,31.56,120.31",  # three numbers
    "120.28,31.56,120.31,31.60,1",
    "a,b,c,d",
    "120.28,31.60,120.31,31.56",  # minLat > maxLat
    "120.28,31.56,190,31.60",  # longitude out of range
    "120.28,-91,120.31,31.60",  # latitude out of range
    "nan,31.56,120.31,31.60",
])
def test_bad_bbox_is_400_naming_bbox(api_client, city, bbox):
    _error(api_client.get(LIST, {"bbox": bbox}), 400, "invalid", "bbox")


def test_bbox_across_the_antimeridian(api_client, city):
    LotFactory(code="HERE", lat=31.575, lon=120.300)
    assert _codes(api_client.get(LIST, {"bbox": "170,-10,-170,10"})) == []
    assert _codes(api_client.get(LIST, {"bbox": "120,31,-170,32"})) == ["HERE"]


def test_q_searches_name_address_and_code(api_client, city):
    LotFactory(code="LX-MALL", name="恒隆广场地下停车场", address="人民中路139号")
    LotFactory(code="BH-PARK", name="蠡湖公园停车场", address="湖滨路")
    assert _codes(api_client.get(LIST, {"q": "恒隆"})) == ["LX-MALL"]
    assert _codes(api_client.get(LIST, {"q": "湖滨"})) == ["BH-PARK"]
    assert _codes(api_client.get(LIST, {"q": "bh-"})) == ["BH-PARK"]
    assert _codes(api_client.get(LIST, {"q": "停车场"})) == ["BH-PARK", "LX-MALL"]


def test_filters_combine(api_client, city):
    LotFactory(code="A", region=city["320211"], ev_berths=2, free_berths=10)
    LotFactory(code="B", region=city["320211"], ev_berths=0, free_berths=10)
    LotFactory(code="C", region=city["320213"], ev_berths=2, free_berths=10)
    assert _codes(api_client.get(LIST, {"region": "320211", "has_ev": "true", "min_free": 3})) == ["A"]


# --- detail ----------------------------------------------------------------------------------


def test_detail_has_the_spec_fields_and_the_tariff_in_words(api_client, city):
    LotFactory(code="LX-9")
    body = api_client.get("/api/v1/lots/LX-9/").json()
    assert set(body) == SPEC_LOT_FIELDS | {"tariff_text", "booking_rules"}
    assert body["tariff"] == CORE_ARTERIAL_RULES
    assert body["tariff_text"].startswith("30分钟内免费")
    english = api_client.get("/api/v1/lots/lx-9/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["code"] == "LX-9"
    assert english["tariff_text"].startswith("free for stays up to 30 min")


def test_detail_tariff_text_names_the_large_vehicle_rule(api_client, city):
    LotFactory(code="LX-10")
    assert api_client.get("/api/v1/lots/LX-10/").json()["tariff_text"].endswith("。大型车按小型车的2倍收费")
    english = api_client.get("/api/v1/lots/LX-10/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["tariff_text"].endswith(". Large vehicles pay 2× the rate for small vehicles")


def test_detail_without_tariff(api_client, city):
    LotFactory(code="FREE", tariff=None)
    body = api_client.get("/api/v1/lots/FREE/").json()
    assert body["tariff"] is None
    assert body["tariff_text"] is None


def test_unknown_lot_is_404_in_the_spec_body(api_client, city):
    error = _error(api_client.get("/api/v1/lots/NOPE-1/"), 404, "not_found")
    assert "NOPE-1" in error["message"]


@pytest.mark.parametrize("path", ["%00", "LX-9%00", "LX%209", "%E6%97%A0%E9%94%A1", "X" * 33])
def test_a_code_that_is_not_a_lot_code_is_404_without_a_lookup(api_client, city, path, django_assert_num_queries):
    LotFactory(code="LX-9")
    with django_assert_num_queries(0):
        response = api_client.get(f"/api/v1/lots/{path}/")
    _error(response, 404, "not_found")


@pytest.mark.postgres
def test_a_nul_in_the_lot_code_is_404_on_postgresql(api_client, city):
    """PostgreSQL refuses a NUL in a query parameter with an error (a 500 before the code was checked)."""
    LotFactory(code="LX-9")
    _error(api_client.get("/api/v1/lots/%00/"), 404, "not_found")
    _error(api_client.get("/api/v1/lots/LX-9%00/"), 404, "not_found")
    assert api_client.get("/api/v1/lots/lx-9/").status_code == 200


# --- nearest ---------------------------------------------------------------------------------


def test_nearest_orders_by_distance_with_distance_m(api_client, city):
    here = (31.5748, 120.2990)
    LotFactory(code="FAR", lat=31.60, lon=120.33)
    LotFactory(code="NEAR", lat=31.5750, lon=120.2995)
    LotFactory(code="MID", lat=31.58, lon=120.31)
    body = api_client.get(NEAREST, {"lat": here[0], "lon": here[1]}).json()
    assert [lot["code"] for lot in body] == ["NEAR", "MID", "FAR"]
    assert set(body[0]) == SPEC_LOT_FIELDS | {"distance_m"}
    assert body[0]["distance_m"] == round(distance_m(*here, 31.5750, 120.2995))
    assert body[2]["distance_m"] > 4000


def test_nearest_skips_lots_without_free_berths_unless_asked(api_client, city):
    LotFactory(code="FULL", lat=31.5748, lon=120.2990, free_berths=0)
    LotFactory(code="CLOSED", lat=31.5749, lon=120.2990, status=ParkingLot.Status.CLOSED)
    LotFactory(code="FREE", lat=31.58, lon=120.30, free_berths=3)
    params = {"lat": 31.5748, "lon": 120.2990}
    assert [lot["code"] for lot in api_client.get(NEAREST, params).json()] == ["FREE"]
    assert [lot["code"] for lot in api_client.get(NEAREST, {**params, "min_free": 5}).json()] == []
    everything = api_client.get(NEAREST, {**params, "min_free": 0}).json()
    assert [lot["code"] for lot in everything] == ["FULL", "CLOSED", "FREE"]


def test_nearest_is_exact_against_brute_force(api_client, city):
    rng = random.Random(7)
    points = []
    for n in range(120):
        # A dense centre and a sparse ring, so the search box must grow for some queries.
        spread = 0.01 if n < 60 else 0.4
        lat, lon = 31.57 + rng.uniform(-spread, spread), 120.30 + rng.uniform(-spread, spread)
        free = rng.choice([0, 0, 5, 40])
        LotFactory(code=f"R-{n:03d}", lat=lat, lon=lon, free_berths=free, total_berths=40, tariff=None,
                   operator=None)
        points.append((f"R-{n:03d}", lat, lon, free))
    for lat, lon, limit in [(31.57, 120.30, 10), (31.9, 120.28, 5), (31.2, 119.6, 30), (0.0, 0.0, 3),
                            (31.575, 120.70, 100)]:
        expected = sorted((distance_m(lat, lon, p_lat, p_lon), code) for code, p_lat, p_lon, free in points if free)
        body = api_client.get(NEAREST, {"lat": lat, "lon": lon, "limit": limit}).json()
        assert [lot["code"] for lot in body] == [code for _, code in expected[:limit]]


def test_nearest_in_a_dense_centre_reads_only_a_small_box(api_client, city, django_assert_max_num_queries):
    for n in range(40):
        LotFactory(lat=31.5748 + (n % 8) * 0.0005, lon=120.2990 + (n // 8) * 0.0005)
    with django_assert_max_num_queries(2):  # one box, then the chosen lots
        assert len(api_client.get(NEAREST, {"lat": 31.576, "lon": 120.300, "limit": 10}).json()) == 10


@pytest.mark.parametrize(("params", "field"), [
    ({"lon": 120.3}, "lat"),
    ({"lat": 31.5}, "lon"),
    ({"lat": "north", "lon": 120.3}, "lat"),
    ({"lat": 91, "lon": 120.3}, "lat"),
    ({"lat": 31.5, "lon": -181}, "lon"),
    ({"lat": "nan", "lon": 120.3}, "lat"),
    ({"lat": 31.5, "lon": 120.3, "limit": 0}, "limit"),
    ({"lat": 31.5, "lon": 120.3, "limit": 101}, "limit"),
    ({"lat": 31.5, "lon": 120.3, "min_free": -2}, "min_free"),
])
def test_nearest_validates_its_parameters(api_client, city, params, field):
    _error(api_client.get(NEAREST, params), 400, field=field)


def test_nearest_takes_the_list_filters(api_client, city):
    LotFactory(code="ON", lat=31.5748, lon=120.2990, kind=ParkingLot.Kind.ON_STREET, zone_class="core",
               road_class="arterial")
    LotFactory(code="OFF", lat=31.58, lon=120.30)
    body = api_client.get(NEAREST, {"lat": 31.5748, "lon": 120.2990, "kind": "off_street"}).json()
    assert [lot["code"] for lot in body] == ["OFF"]


# --- the map GeoJSON -------------------------------------------------------------------------


def test_geojson_is_a_feature_collection_of_points_with_the_lot_fields(api_client, city):
    LotFactory(code="G-1", lat=31.5748, lon=120.2990, operator=OperatorFactory(name="运营甲"),
               occupancy_updated_at=timezone.now())
    LotFactory(code="G-2", tariff=None, operator=None, status=ParkingLot.Status.CLOSED)
    response = api_client.get(GEOJSON)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    listed = {lot["code"]: lot for lot in api_client.get(LIST).json()["results"]}
    assert [f["id"] for f in body["features"]] == ["G-1", "G-2"]
    for feature in body["features"]:
        assert feature["type"] == "Feature"
        properties = feature["properties"]
        assert feature["geometry"] == {"type": "Point", "coordinates": [properties["lon"], properties["lat"]]}
        # The map and the list show the same lot the same way.
        assert properties == listed[feature["id"]]
    assert body["features"][0]["geometry"]["coordinates"] == [120.2990, 31.5748]


def test_geojson_filters_by_region_and_kind(api_client, city):
    LotFactory(code="LX", region=city["320213"])
    LotFactory(code="BH", region=city["320211"])
    LotFactory(code="BH-ON", region=city["320211"], kind=ParkingLot.Kind.ON_STREET, zone_class="outer",
               road_class="branch")

    def ids(params):
        return [f["id"] for f in api_client.get(GEOJSON, params).json()["features"]]

    assert ids({}) == ["BH", "BH-ON", "LX"]
    assert ids({"region": "320211"}) == ["BH", "BH-ON"]
    assert ids({"region": "320211", "kind": "on_street"}) == ["BH-ON"]
    assert ids({"region": "320200", "kind": "off_street"}) == ["BH", "LX"]
    assert ids({"region": "3202jk"}) == []
    _error(api_client.get(GEOJSON, {"region": "999999"}), 400, field="region")
    _error(api_client.get(GEOJSON, {"kind": "boat"}), 400, field="kind")


def test_geojson_cold_is_one_query_whatever_the_rows_and_warm_is_none(api_client, city, django_assert_num_queries):
    from django.core.cache import cache

    for _ in range(5):
        LotFactory(tariff=TariffFactory(), operator=OperatorFactory())
    with django_assert_num_queries(1):
        assert len(api_client.get(GEOJSON).json()["features"]) == 5
    for _ in range(45):
        LotFactory(tariff=TariffFactory(), operator=OperatorFactory())
    cache.clear()
    with django_assert_num_queries(1):
        assert len(api_client.get(GEOJSON).json()["features"]) == 50
    with django_assert_num_queries(0):
        assert len(api_client.get(GEOJSON).json()["features"]) == 50


def test_geojson_snapshot_is_shared_for_a_few_seconds_then_rebuilt(api_client, city):
    lot = LotFactory(free_berths=10)
    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=UTC), tick=False) as traveller:
        assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 10
        ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
        traveller.shift(2)
        assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 10
        traveller.shift(2)
        assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 4


def test_a_stale_snapshot_is_served_while_another_request_rebuilds_it(api_client, city,
                                                                      django_assert_num_queries):
    from django.core.cache import cache

    from apps.lots.selectors import map_snapshot_key

    lot = LotFactory(free_berths=10)
    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=UTC), tick=False) as traveller:
        api_client.get(GEOJSON)
        ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
        traveller.shift(10)
        assert cache.add(map_snapshot_key(region=None, kind=None) + ":lock", 1)  # a rebuild is under way
        with django_assert_num_queries(0):
            assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 10
        cache.delete(map_snapshot_key(region=None, kind=None) + ":lock")
        assert api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"] == 4


def test_geojson_serves_gzip_and_honours_etag(api_client, city):
    LotFactory()
    plain = api_client.get(GEOJSON)
    zipped = api_client.get(GEOJSON, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert "Accept-Encoding" in zipped["Vary"]
    assert plain["ETag"] == zipped["ETag"]
    again = api_client.get(GEOJSON, HTTP_IF_NONE_MATCH=plain["ETag"])
    assert again.status_code == 304
    assert again.content == b""


def test_geojson_accepts_a_geojson_or_json_accept_header(api_client, city):
    LotFactory()
    assert api_client.get(GEOJSON, HTTP_ACCEPT="application/geo+json").status_code == 200
    assert api_client.get(GEOJSON, HTTP_ACCEPT="application/json").status_code == 200


# --- list and nearest from the map's snapshot -------------------------------------------------


def _mixed_city(city, n=40):
    """Lots of every state, kind and region, with names that a search can tell apart."""
    rng = random.Random(11)
    regions = [city["320213"], city["320211"], city["3202JK"]]
    for i in range(n):
        changes = rng.choice([{}, {}, {"free_berths": 0}, {"status": ParkingLot.Status.CLOSED},
                              {"offline_since": datetime(2026, 3, 1, tzinfo=UTC)}])
        LotFactory(code=f"M-{i:03d}", name=rng.choice(["恒隆广场", "蠡湖公园", "Mall B"]) + f"停车场{i}",
                   region=rng.choice(regions), ev_berths=rng.choice([0, 4]), accessible_berths=rng.choice([0, 2]),
                   kind=rng.choice([ParkingLot.Kind.OFF_STREET, ParkingLot.Kind.ON_STREET]),
                   lat=31.57 + rng.uniform(-0.05, 0.05), lon=120.30 + rng.uniform(-0.05, 0.05),
                   free_berths=changes.pop("free_berths", rng.randint(1, 80)), total_berths=80,
                   operator=rng.choice([None, OperatorFactory()]), tariff=rng.choice([None, TariffFactory()]),
                   occupancy_updated_at=rng.choice([None, timezone.now()]), **changes)


@pytest.mark.parametrize("params", [
    {}, {"region": "320211"}, {"region": "320200", "kind": "on_street"}, {"has_ev": "true"},
    {"has_accessible": "false", "kind": "off_street"}, {"min_free": 1}, {"min_free": 30, "has_ev": "1"},
    {"min_free": 0}, {"bbox": "120.28,31.55,120.31,31.58"}, {"q": "mall b"}, {"q": "蠡湖", "region": "320213"},
    {"page_size": 7, "page": 3}, {"page_size": 1000},
])
def test_list_from_the_snapshot_is_what_the_serializer_gives_for_the_same_filters(api_client, city, params):
    """The snapshot path must answer exactly as the FilterSet's SQL and LotSerializer did."""
    from django.test import RequestFactory

    from apps.lots.api.filters import LotFilter
    from apps.lots.api.serializers import LotSerializer
    from apps.lots.selectors import public_lots

    _mixed_city(city)
    filtered = LotFilter({k: str(v) for k, v in params.items()}, queryset=public_lots().order_by("code"),
                         request=RequestFactory().get(LIST)).qs
    size, page = int(params.get("page_size", 50)), int(params.get("page", 1))
    expected = json.loads(json.dumps(LotSerializer(filtered[(page - 1) * size:page * size], many=True).data))

    response = api_client.get(LIST, params)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["count"] == filtered.count()
    assert body["results"] == expected
    if expected:  # the members in LotSerializer's order, too
        assert list(body["results"][0]) == list(LotSerializer.Meta.fields)
    assert (body["next"] is None) == (page * size >= body["count"])
    assert (body["previous"] is None) == (page == 1)


@pytest.mark.parametrize("params", [
    {"lat": 31.57, "lon": 120.30}, {"lat": 31.60, "lon": 120.27, "limit": 25, "min_free": 0},
    {"lat": 31.55, "lon": 120.33, "limit": 100, "kind": "off_street", "has_ev": "true"},
    {"lat": 32.5, "lon": 121.0, "limit": 3, "region": "320211"},
])
def test_nearest_from_the_snapshot_is_what_the_database_path_gives(api_client, city, params):
    from apps.lots.api.filters import NearestLotFilter
    from apps.lots.api.serializers import NearestLotSerializer
    from apps.lots.selectors import lots_nearest, public_lots

    _mixed_city(city)
    filters = {k: str(v) for k, v in params.items() if k not in ("lat", "lon", "limit")}
    queryset = NearestLotFilter(filters, queryset=public_lots()).qs
    lots = lots_nearest(queryset=queryset, lat=params["lat"], lon=params["lon"], limit=params.get("limit", 10))
    expected = json.loads(json.dumps(NearestLotSerializer(lots, many=True).data))

    body = api_client.get(NEAREST, params).json()

    assert body == expected
    assert len(body) == min(params.get("limit", 10), queryset.count())


def test_list_and_nearest_are_exactly_as_fresh_as_the_map(api_client, city):
    """One build serves the map and the list: they never disagree, and a change shows in both
    once the snapshot is MAP_SNAPSHOT_FRESH_S old."""
    lot = LotFactory(code="F-1", free_berths=10, lat=31.5748, lon=120.2990)

    def seen():
        listed = api_client.get(LIST).json()["results"][0]["free_berths"]
        near = api_client.get(NEAREST, {"lat": 31.5748, "lon": 120.2990}).json()[0]["free_berths"]
        mapped = api_client.get(GEOJSON).json()["features"][0]["properties"]["free_berths"]
        return listed, near, mapped

    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=UTC), tick=False) as traveller:
        assert seen() == (10, 10, 10)
        ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
        traveller.shift(2)
        assert seen() == (10, 10, 10)
        traveller.shift(2)
        assert api_client.get(LIST).json()["results"][0]["free_berths"] == 4  # the list rebuilds it…
        assert seen() == (4, 4, 4)  # …and the map is served from that same build


def test_warm_list_and_nearest_cost_no_query(api_client, city, django_assert_num_queries):
    from apps.lots import selectors

    for _ in range(30):
        LotFactory(tariff=TariffFactory(), operator=OperatorFactory())
    api_client.get(GEOJSON)  # the map built the snapshot
    with django_assert_num_queries(0):
        assert api_client.get(LIST, {"page_size": 1000}).json()["count"] == 30
        assert len(api_client.get(NEAREST, {"lat": 31.58, "lon": 120.30, "limit": 10}).json()) == 10
    # Another server process built it: this one reads the lots from the shared cache, no query.
    selectors._local_snapshot = None
    with django_assert_num_queries(0):
        assert len(api_client.get(LIST, {"bbox": "120.0,31.0,121.0,32.0"}).json()["results"]) == 30
    # A filter's cleaned value is kept with the build: the region's subtree is looked up once.
    with django_assert_num_queries(2):
        assert api_client.get(LIST, {"region": "320200"}).json()["count"] == 30
    with django_assert_num_queries(0):
        assert api_client.get(LIST, {"region": "320200", "page_size": 5}).json()["count"] == 30


def test_a_stale_list_is_served_while_another_request_rebuilds_the_snapshot(api_client, city,
                                                                           django_assert_num_queries):
    from django.core.cache import cache

    from apps.lots.selectors import map_snapshot_key

    lot = LotFactory(free_berths=10)
    with time_machine.travel(datetime(2026, 3, 17, 9, 0, tzinfo=UTC), tick=False) as traveller:
        api_client.get(LIST)
        ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
        traveller.shift(10)
        assert cache.add(map_snapshot_key(region=None, kind=None) + ":lock", 1)  # a rebuild is under way
        with django_assert_num_queries(0):
            assert api_client.get(LIST).json()["results"][0]["free_berths"] == 10
        cache.delete(map_snapshot_key(region=None, kind=None) + ":lock")
        assert api_client.get(LIST).json()["results"][0]["free_berths"] == 4


def test_bad_filters_are_still_400_on_the_snapshot_path(api_client, city):
    LotFactory()
    api_client.get(LIST)  # warm
    _error(api_client.get(LIST, {"has_ev": "maybe"}), 400, "invalid", "has_ev")
    _error(api_client.get(NEAREST, {"lat": 31.5, "lon": 120.3, "bbox": "1,2"}), 400, "invalid", "bbox")
    past = api_client.get(LIST, {"page": 4})  # past the end: an empty page, as on the database path
    assert past.status_code == 200 and past.json()["results"] == []
