"""Coordinates (SPEC §1, §4): GCJ-02 both ways on real Wuxi points, distances, boxes."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.common.geo import (
    WUXI_BOUNDS,
    bbox_contains,
    distance_m,
    gcj02_to_wgs84,
    in_wuxi,
    to_wgs84,
    wgs84_to_gcj02,
)

# WGS-84 (lat, lon) of places across the city.
WUXI_POINTS = {
    "三阳广场": (31.5748, 120.2990),
    "无锡站": (31.5889, 120.3040),
    "江阴": (31.9103, 120.2853),
    "宜兴": (31.3405, 119.8235),
    "新吴 硕放机场": (31.4944, 120.4291),
    "宜兴 西南": (31.15, 119.56),
}

# Published vectors (wgsLat, wgsLon, gcjLat, gcjLon) that every faithful implementation of the
# standard transform reproduces, e.g. googollee/eviltransform's test suite.
REFERENCE = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), REFERENCE)
def test_forward_matches_reference_vectors(w_lat, w_lon, g_lat, g_lon):
    lat, lon = wgs84_to_gcj02(w_lat, w_lon)
    assert lat == pytest.approx(g_lat, abs=1e-9)
    assert lon == pytest.approx(g_lon, abs=1e-9)


@pytest.mark.parametrize(("w_lat", "w_lon", "g_lat", "g_lon"), REFERENCE)
def test_inverse_recovers_reference_vectors(w_lat, w_lon, g_lat, g_lon):
    lat, lon = gcj02_to_wgs84(g_lat, g_lon)
    assert distance_m(lat, lon, w_lat, w_lon) < 0.01


@pytest.mark.parametrize("name", WUXI_POINTS)
def test_forward_offset_in_wuxi(name):
    lat, lon = WUXI_POINTS[name]
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    assert 0.0040 <= g_lon - lon <= 0.0052
    assert -0.0025 <= g_lat - lat <= -0.0013
    # About 500 m: enough to put a car park on the wrong street.
    assert 400 < distance_m(lat, lon, g_lat, g_lon) < 600


@pytest.mark.parametrize("name", WUXI_POINTS)
def test_round_trip_on_named_points(name):
    lat, lon = WUXI_POINTS[name]
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert distance_m(lat, lon, *back) < 0.01


wuxi_lat = st.floats(WUXI_BOUNDS.min_lat, WUXI_BOUNDS.max_lat)
wuxi_lon = st.floats(WUXI_BOUNDS.min_lon, WUXI_BOUNDS.max_lon)


@given(wuxi_lat, wuxi_lon)
def test_round_trip_within_half_a_metre_across_wuxi(lat, lon):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert distance_m(lat, lon, *back) < 0.5
    # And the inverse is really an inverse of the GCJ-02 point, not just close to the start.
    assert distance_m(*wgs84_to_gcj02(*back), *wgs84_to_gcj02(lat, lon)) < 0.5


@given(wuxi_lat, wuxi_lon)
def test_gcj_input_inverse_forward_within_half_a_metre(g_lat, g_lon):
    w = gcj02_to_wgs84(g_lat, g_lon)
    assert distance_m(*wgs84_to_gcj02(*w), g_lat, g_lon) < 0.5


@given(st.floats(18.0, 53.0), st.floats(75.0, 134.0))
def test_round_trip_elsewhere_in_china(lat, lon):
    # The whole country, not only Wuxi: Kashgar to Harbin to Sanya.
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert distance_m(lat, lon, *back) < 0.5


@pytest.mark.parametrize(("lat", "lon"), [
    (51.5007, -0.1246),  # London
    (40.6892, -74.0445),  # New York
    (-33.8568, 151.2153),  # Sydney
    (0.0, 0.0),
    (60.0, 120.0),  # north of the box
    (35.0, 140.0),  # east of the box
    (90.0, 180.0),
    (-90.0, -180.0),
])
def test_outside_china_unchanged(lat, lon):
    assert wgs84_to_gcj02(lat, lon) == (lat, lon)
    assert gcj02_to_wgs84(lat, lon) == (lat, lon)


@pytest.mark.parametrize(("lat", "lon"), [
    (math.nan, 120.0), (31.5, math.inf), (91.0, 120.0), (31.5, -181.0),
])
def test_bad_coordinates_raise(lat, lon):
    with pytest.raises(ValueError):
        wgs84_to_gcj02(lat, lon)
    with pytest.raises(ValueError):
        gcj02_to_wgs84(lat, lon)


def test_to_wgs84():
    g = wgs84_to_gcj02(31.5748, 120.2990)
    assert to_wgs84(31.5748, 120.2990) == (31.5748, 120.2990)
    assert to_wgs84(31.5748, 120.2990, None) == (31.5748, 120.2990)
    assert to_wgs84(31.5748, 120.2990, "WGS84") == (31.5748, 120.2990)
    assert distance_m(*to_wgs84(*g, "gcj02"), 31.5748, 120.2990) < 0.01
    with pytest.raises(ValueError):
        to_wgs84(31.5748, 120.2990, "bd09")


def test_distance_sanity():
    assert distance_m(31.0, 120.0, 32.0, 120.0) == pytest.approx(111_195, abs=5)
    assert distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(111_195, abs=5)
    assert distance_m(31.5748, 120.2990, 31.5748, 120.2990) == 0.0
    assert distance_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6_371_008.8)
    assert distance_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * 6_371_008.8)
    # 三阳广场 to 无锡站 is about 1.6 km as the crow flies.
    assert 1_400 < distance_m(*WUXI_POINTS["三阳广场"], *WUXI_POINTS["无锡站"]) < 1_800


@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_distance_is_symmetric_and_bounded(lat1, lon1, lat2, lon2):
    d = distance_m(lat1, lon1, lat2, lon2)
    assert d == pytest.approx(distance_m(lat2, lon2, lat1, lon1), abs=1e-6)
    assert 0.0 <= d <= math.pi * 6_371_008.8 + 1e-6


@pytest.mark.parametrize("name", WUXI_POINTS)
def test_named_points_are_in_wuxi(name):
    assert in_wuxi(*WUXI_POINTS[name])


@pytest.mark.parametrize(("lat", "lon"), [
    (31.2304, 121.4737),  # Shanghai
    (32.0603, 118.7969),  # Nanjing
    (30.2741, 120.1551),  # Hangzhou
    (39.9042, 116.4074),  # Beijing
])
def test_other_cities_are_not_in_wuxi(lat, lon):
    assert not in_wuxi(lat, lon)


def test_wuxi_bounds_cover_jiangyin_and_yixing():
    min_lon, min_lat, max_lon, max_lat = WUXI_BOUNDS
    assert min_lat <= 31.07 and max_lat >= 32.0
    assert min_lon <= 119.53 and max_lon >= 120.62


def test_bbox_contains():
    box = (120.0, 31.0, 121.0, 32.0)  # minLon, minLat, maxLon, maxLat
    assert bbox_contains(box, 31.5, 120.5)
    assert bbox_contains(box, 31.0, 120.0)  # edges are inside
    assert bbox_contains(box, 32.0, 121.0)
    assert not bbox_contains(box, 120.5, 31.5)  # lat and lon swapped
    assert not bbox_contains(box, 30.99, 120.5)
    assert not bbox_contains(box, 31.5, 121.01)
    across = (170.0, -10.0, -170.0, 10.0)  # crosses the antimeridian
    assert bbox_contains(across, 0.0, 179.0) and bbox_contains(across, 0.0, -179.0)
    assert not bbox_contains(across, 0.0, 0.0)
    with pytest.raises(ValueError):
        bbox_contains((120.0, 32.0, 121.0, 31.0), 31.5, 120.5)
