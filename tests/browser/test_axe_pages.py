"""axe-core (vendored in static/vendor/axe-core) on the citizen's other phone pages, as on 我的: the
map with a lot's card open (its booking rules shown), the pay page at a lot's code, and the
bookings page find no serious or critical WCAG 2.1 AA violation. Served by pytest-django's live
server in this process, on a closed network."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from tests.factories import LotFactory
from tests.factories_reservations import HospitalFactory, SlotFactory
from tests.realtime.live import live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
AXE_URL = "/static/vendor/axe-core/axe.min.js"
AXE_RUN = """() => axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
  .then(r => r.violations.filter(v => ["serious", "critical"].includes(v.impact))
                         .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")))"""
LOT = "LX-AXE-1"


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def places(city):
    lot = LotFactory(code=LOT, name="崇安寺公共停车场", region=city["320213"], lat=31.58, lon=120.30, ev_berths=8,
                     total_berths=100, free_berths=40)
    site = HospitalFactory(name="崇安寺充电预约", lot=lot, kind="lot", waives_fee=False, ev_free_minutes=120)
    starts = (timezone.localtime() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    SlotFactory(hospital=site, starts_at=starts, quota=4, berth_kind="ev")
    far = LotFactory(code="BH-AXE-2", region=city["320211"], lat=31.49, lon=120.23)  # not clustered with the first
    SlotFactory(hospital=HospitalFactory(name="无锡市人民医院", lot=far), starts_at=starts, quota=3)
    return lot


def _page(chromium, live_server):
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
               else route.abort())
    return context, page


def _violations(page) -> list[str]:
    page.add_script_tag(url=urljoin(page.url, AXE_URL))  # from the server: the CSP refuses inline script
    return page.evaluate(AXE_RUN)


@pytest.fixture
def asgi_server(places, tmp_path):
    """The map wants the ASGI server (its live channel): started after the data, before the browser."""
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def test_the_map_and_a_lot_card_with_its_booking_rule(asgi_server, chromium):
    context, page = _page(chromium, asgi_server)
    page.goto(f"{asgi_server.url}/map/")
    pin = page.locator(f'.pin[data-code="{LOT}"]')
    pin.wait_for(timeout=15_000)
    assert _violations(page) == []
    pin.click()
    page.locator("#card-booking:not([hidden])").wait_for(timeout=5_000)
    assert "到达后 120 分钟内停车免费" in page.locator("#card-booking-rules").inner_text()
    assert _violations(page) == []
    context.close()


def test_the_pay_page_at_a_lots_code(places, live_server, chromium):
    context, page = _page(chromium, live_server)
    page.goto(f"{live_server.url}/pay/{LOT}/")
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []
    context.close()


def test_the_bookings_page(places, live_server, chromium):
    context, page = _page(chromium, live_server)
    page.goto(f"{live_server.url}/reservations/")
    page.wait_for_load_state("networkidle")
    assert "无锡市人民医院" in page.inner_text("body")
    assert _violations(page) == []
    context.close()
