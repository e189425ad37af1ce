"""The parking map in a real headless chromium, on a phone-sized screen, against a real ASGI server.

Tiles are blocked (every request leaving 127.0.0.1 is aborted), as on a closed network: the
markers must show anyway, and a lot's count must follow an entry posted through the ingest API.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from apps.lots.models import ParkingLot
from tests.factories import DeviceFactory, LotFactory
from tests.realtime.live import live_servers, post_entry, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TARGET = "LX-MAP-1"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
SCREENSHOT_DIR = tempfile.gettempdir()  # screenshots are looked at by hand, never committed


@pytest.fixture
def map_city(city):
    """A handful of lots around central Wuxi, one of each colour, plus a tight group that clusters."""
    liangxi, binhu, xinwu = city["320213"], city["320211"], city["320214"]
    target = LotFactory(code=TARGET, name="崇安寺公共停车场", region=liangxi, lat=31.5800, lon=120.3000,
                        total_berths=100, free_berths=100, opening_hours="00:00-24:00", ev_berths=8)
    LotFactory(code="LX-MAP-2", name="南禅寺停车场", region=liangxi, lat=31.5450, lon=120.3050,
               total_berths=100, free_berths=20)
    LotFactory(code="BH-MAP-1", name="万达广场停车场", region=binhu, lat=31.5600, lon=120.2550,
               total_berths=50, free_berths=0)
    LotFactory(code="XW-MAP-1", name="新吴区政务中心停车场", region=xinwu, lat=31.5500, lon=120.3500,
               total_berths=80, free_berths=30, offline_since=timezone.now() - timedelta(minutes=30))
    for n in range(12):
        LotFactory(code=f"LX-GRP-{n}", name=f"中山路泊位{n}", region=liangxi, kind=ParkingLot.Kind.ON_STREET,
                   zone_class="core", road_class="arterial", lat=31.6050 + n * 0.0004, lon=120.2750 + n * 0.0003,
                   total_berths=12, free_berths=n % 7)
    device, secret = DeviceFactory.issue(lots=[target])
    return {"access_key": device.access_key, "secret": secret}


@pytest.fixture
def server(map_city, tmp_path):
    """Started before the browser: Playwright's sync API runs an event loop, and the ORM refuses to
    work under one, so the database copy is taken first."""
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def test_the_map_shows_lots_without_tiles_and_follows_an_entry_live(map_city, server, chromium):
    context = chromium.new_context(**PHONE, geolocation={"latitude": 31.5790, "longitude": 120.3010},
                                   permissions=["geolocation"])
    page = context.new_page()
    left_loopback: list[str] = []

    def closed_network(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            left_loopback.append(route.request.url)
            route.abort()

    page.route("**/*", closed_network)
    page.goto(f"{server.url}/map/")

    assert page.title() == "无锡停车 · 实时余位地图"
    pin = page.locator(f'.pin[data-code="{TARGET}"]')
    pin.wait_for(timeout=15_000)
    assert pin.inner_text() == "100"
    assert "pin--green" in pin.get_attribute("class")
    assert "pin--red" in page.locator('.pin[data-code="BH-MAP-1"]').get_attribute("class")
    assert "pin--amber" in page.locator('.pin[data-code="LX-MAP-2"]').get_attribute("class")
    assert "pin--grey" in page.locator('.pin[data-code="XW-MAP-1"]').get_attribute("class")
    assert page.locator(".cluster").count() >= 1  # the on-street group is clustered
    page.locator("#live.live--live").wait_for(timeout=5_000)

    response = post_entry(server, access_key=map_city["access_key"], secret=map_city["secret"], lot_code=TARGET)
    posted = time.monotonic()
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    page.wait_for_function(
        "code => { const pin = document.querySelector(`.pin[data-code='${code}']`);"
        " return pin !== null && pin.textContent === '99'; }",
        arg=TARGET, timeout=2_000,
    )
    latency = time.monotonic() - posted
    print(f"marker_latency_s={latency:.3f}")  # shown with -s or -rP
    assert latency < 2.0

    # Closed network: the only requests that tried to leave were map tiles, and the page says so.
    assert left_loopback, "the page should at least try to load tiles"
    assert all(urlsplit(url).hostname.endswith("tile.openstreetmap.org") for url in left_loopback), left_loopback
    page.locator("#notice").wait_for(timeout=5_000)
    assert "底图无法加载" in page.locator("#notice").inner_text()
    page.screenshot(path=f"{SCREENSHOT_DIR}/wuxi-map.png")

    # The lot card: live count, tariff in words, a fee estimate and the AMap hand-off.
    pin.click()
    card = page.locator(f'.card[data-code="{TARGET}"]')
    card.wait_for(timeout=5_000)
    assert card.locator("h2").inner_text() == "崇安寺公共停车场"
    assert card.locator(".free").inner_text() == "99"
    page.wait_for_function("() => document.querySelector('#card-tariff').textContent.includes('元')",
                           timeout=5_000)
    page.wait_for_function("() => /预计 \\d+\\.\\d\\d 元/.test(document.querySelector('#quote').textContent)",
                           timeout=5_000)
    assert card.locator("#card-hours").inner_text() == "00:00-24:00"
    page.screenshot(path=f"{SCREENSHOT_DIR}/wuxi-map-card.png")
    page.select_option("#estimator select[name=minutes]", "30")
    page.wait_for_function("() => document.querySelector('#quote').textContent.includes('0.00')", timeout=5_000)
    href = card.locator("a.nav-btn").get_attribute("href")
    navigate = context.request.get(f"{server.url}{href}", max_redirects=0)
    assert navigate.status == 302
    amap = urlsplit(navigate.headers["location"])
    assert amap.hostname == "uri.amap.com"
    lon, lat, name = parse_qs(amap.query)["to"][0].split(",")
    assert name == "崇安寺公共停车场"
    assert 0.001 < abs(float(lon) - 120.3000) < 0.01 and 0.001 < abs(float(lat) - 31.5800) < 0.01  # GCJ-02 offset

    # Filters: an EV charger; a region (its list comes from the lots); free berths now.
    page.locator("#sheet-close").click()
    page.locator("#btn-filters").click()
    page.locator("#f-ev").check()
    page.wait_for_function("() => document.querySelectorAll('.pin, .cluster').length === 1")
    assert page.locator(f'.pin[data-code="{TARGET}"]').count() == 1
    page.locator("#f-ev").uncheck()
    assert page.locator("#f-region option").all_inner_texts() == ["全部区域", "滨湖区", "梁溪区", "新吴区"]
    page.select_option("#f-region", "320211")
    page.wait_for_function("() => document.querySelectorAll('.pin, .cluster').length === 1")
    assert page.locator('.pin[data-code="BH-MAP-1"]').count() == 1
    page.select_option("#f-region", "")
    page.locator("#f-free").check()
    page.wait_for_function("() => document.querySelector('.pin[data-code=\"LX-MAP-2\"]') !== null")
    assert page.locator('.pin[data-code="BH-MAP-1"], .pin[data-code="XW-MAP-1"]').count() == 0  # full, offline
    assert page.locator("#filter-count").inner_text() == "1"
    page.locator("#f-free").uncheck()
    page.locator("#btn-filters").click()

    # Near me: the browser's position through /api/v1/lots/nearest, nearest first.
    page.locator("#btn-near").click()
    first = page.locator(".nearby li button").first
    first.wait_for(timeout=5_000)
    assert first.get_attribute("data-code") == TARGET
    assert page.locator(".nearby .dist").first.inner_text().endswith(" m")
    page.screenshot(path=f"{SCREENSHOT_DIR}/wuxi-map-nearby.png")
    context.close()
