"""The map page's server side: the page and its configuration, and the AMap hand-off in GCJ-02."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.common.geo import wgs84_to_gcj02
from tests.factories import LotFactory


def page_config(response) -> dict:
    match = re.search(r'<script id="map-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(match.group(1))


@pytest.mark.django_db
def test_the_map_page_is_chinese_mobile_first_and_loads_nothing_from_a_cdn(client):
    response = client.get("/map/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>无锡停车 · 实时余位地图</title>" in html
    assert 'name="viewport"' in html and "width=device-width" in html
    scripts = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert scripts and all(url.startswith("/static/") for url in scripts), scripts
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in scripts
    config = page_config(response)
    assert config["geojsonUrl"] == "/api/v1/map/lots.geojson"
    assert config["wsPath"] == "/ws/occupancy/"
    assert config["navigateUrl"] == "/map/lots/{code}/navigate/"
    assert config["text"]["tilesFailed"].startswith("底图")


@pytest.mark.django_db
def test_tiles_are_openstreetmap_by_default(client):
    (layer,) = page_config(client.get("/map/"))["tiles"]
    assert urlsplit(layer["url"]).hostname == "tile.openstreetmap.org"
    assert "OpenStreetMap" in layer["options"]["attribution"]


@pytest.mark.django_db
def test_tianditu_tiles_with_a_key_and_openstreetmap_without_one(client, settings):
    settings.MAP_TILES = "tianditu"
    settings.TIANDITU_KEY = "k3y"
    layers = page_config(client.get("/map/"))["tiles"]
    assert [parse_qs(urlsplit(layer["url"]).query)["LAYER"] for layer in layers] == [["vec"], ["cva"]]
    assert all(layer["url"].endswith("tk=k3y") and "{s}.tianditu.gov.cn" in layer["url"] for layer in layers)

    settings.TIANDITU_KEY = ""
    (layer,) = page_config(client.get("/map/"))["tiles"]
    assert urlsplit(layer["url"]).hostname == "tile.openstreetmap.org"


@pytest.mark.django_db
def test_navigation_hands_amap_the_lot_in_gcj02(client):
    lot = LotFactory(code="NAV-1", name="清名桥停车场", lat=31.5612, lon=120.3089)
    response = client.get("/map/lots/NAV-1/navigate/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert (target.scheme, target.hostname, target.path) == ("https", "uri.amap.com", "/navigation")
    query = parse_qs(target.query)
    lon, lat, name = query["to"][0].split(",")
    expected_lat, expected_lon = wgs84_to_gcj02(lot.lat, lot.lon)
    assert (float(lat), float(lon)) == pytest.approx((expected_lat, expected_lon), abs=1e-6)
    assert name == "清名桥停车场"
    assert query["coordinate"] == ["gaode"]  # AMap's name for GCJ-02
    assert client.get("/map/lots/NOPE/navigate/").status_code == 404
