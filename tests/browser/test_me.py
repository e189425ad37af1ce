"""The citizen's 我的 page in a real headless chromium on a phone-sized screen, against a real ASGI
server: plates, the car's lot, berth, floor and fee so far, arrears with their pay link, binding
and unbinding, the elder mode remembered, and axe-core finding no serious or critical WCAG 2.1 AA
violation (axe-core is vendored in static/vendor/axe-core)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urljoin

import pytest
from django.test import Client
from django.utils import timezone

from apps.berths.models import Berth
from apps.payments.models import Order, OrderItem
from apps.reservations.models import Reservation
from apps.sessions.models import Arrears, ParkingSession
from tests.factories import LotFactory
from tests.factories_complaints import make_ticket
from tests.factories_reservations import HospitalFactory, SlotFactory
from tests.factories_sessions import SessionFactory
from tests.factories_wechat import BoundPlateFactory, IdentityFactory
from tests.realtime.live import live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
AXE_URL = "/static/vendor/axe-core/axe.min.js"
AXE_RUN = """() => axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
  .then(r => r.violations.filter(v => ["serious", "critical"].includes(v.impact))
                         .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")))"""


def _axe_violations(page) -> list[str]:
    page.add_script_tag(url=urljoin(page.url, AXE_URL))  # from the server: the CSP refuses inline script
    return page.evaluate(AXE_RUN)


@pytest.fixture
def citizen_city(city):
    identity = IdentityFactory(openid="o-browser")
    BoundPlateFactory(citizen=identity.citizen, plate="苏B12345")
    BoundPlateFactory(plate="苏B77777")  # someone else's
    lot = LotFactory(code="LX-ME-1", name="崇安寺地下停车场", region=city["320213"])
    berth = Berth.objects.create(lot=lot, code="B-017", floor="负二层")
    now = timezone.now()
    SessionFactory(lot=lot, berth=berth, plate="苏B12345", entry_at=now - timedelta(minutes=95))
    owed = SessionFactory(lot=lot, plate="苏B12345", state=ParkingSession.State.CLOSED,
                          entry_at=now - timedelta(days=3), exit_at=now - timedelta(days=3) + timedelta(hours=2),
                          amount_fen=1200, due_fen=1200)
    Arrears.objects.create(session=owed, plate="苏B12345", lot=lot, amount_fen=1200,
                           created_at=now - timedelta(days=3))
    hospital = HospitalFactory(name="无锡市人民医院")
    slot = SlotFactory(hospital=hospital)
    Reservation.objects.create(code="RSV12345", slot=slot, hospital=hospital, lot=hospital.lot,
                               day=timezone.localtime(slot.starts_at).date(), user=identity.citizen.user,
                               plate="苏B12345", created_at=now,
                               arrive_from=slot.starts_at - timedelta(minutes=30), arrive_until=slot.starts_at)
    paid = Order.objects.create(order_no="20261201093000AbCdEfGhIjKl", channel="sandbox", amount_fen=600,
                                plate="苏B12345", lot=lot, state="paid", created_at=now - timedelta(days=1),
                                expires_at=now, paid_at=now - timedelta(days=1))
    OrderItem.objects.create(order=paid, kind="session", session=owed, lot=lot, amount_fen=600, open=False)
    make_ticket(lot=lot, category_code="equipment_fault", user=identity.citizen.user)
    client = Client()
    client.force_login(identity.citizen.user)
    return client.cookies["sessionid"].value


@pytest.fixture
def server(city, tmp_path):
    """Started before the browser (Playwright's sync API runs an event loop, under which the ORM
    refuses to work), after the test's data: on SQLite the server reads a copy taken here."""
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def test_my_page_on_a_phone(citizen_city, server, tmp_path, chromium):
    context = chromium.new_context(**PHONE)
    context.add_cookies([{"name": "sessionid", "value": citizen_city, "url": server.url}])
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if "127.0.0.1" in route.request.url else route.abort())
    page.goto(f"{server.url}/me/")
    page.wait_for_selector("#current .item")

    plates = page.locator("#plates .plate").all_text_contents()
    assert plates == ["苏B12345"]
    current = page.locator("#current .item").inner_text()
    assert "崇安寺地下停车场" in current and "泊位 B-017" in current and "负二层" in current
    assert "当前费用 ¥" in current
    href = page.locator("#current a").get_attribute("href")
    assert href.endswith("/map/lots/LX-ME-1/navigate/")
    arrears = page.locator("#arrears .item").inner_text()
    assert "欠费 ¥12.00" in arrears
    assert page.locator("#arrears a").get_attribute("href").endswith("/pay/LX-ME-1/")
    bookings = page.locator("#bookings .item").inner_text()
    assert "无锡市人民医院" in bookings and "预约码 RSV12345" in bookings and "已预约" in bookings
    receipt = page.locator("#orders .item").inner_text()
    assert "¥6.00" in receipt and "已支付" in receipt and "20261201093000AbCdEfGhIjKl" in receipt
    assert page.locator("a", has_text="在线投诉").get_attribute("href") == "/hotline/"
    assert page.locator("a", has_text="查询投诉进度").get_attribute("href") == "/hotline/track/"
    complaint = page.locator("#complaints .item").inner_text()
    ticket_no = re.search(r"工单号 (RX\d{8}-\d{4})", complaint).group(1)
    assert "设备故障" in complaint and "已派单" in complaint and "办结时限 " in complaint
    assert page.locator("#complaints a").get_attribute("href") == f"/hotline/track/?no={ticket_no}"
    assert page.locator("#agreements li").inner_text() == "尚未开通无感支付"
    assert "苏B77777" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    assert _axe_violations(page) == []

    page.fill("#bind-plate", "苏b 22222")
    page.click("#bind button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#plates .plate').length === 2")
    assert page.locator("#plates .plate").all_text_contents() == ["苏B12345", "苏B22222"]

    page.fill("#bind-plate", "苏B77777")
    page.click("#bind button[type=submit]")
    page.wait_for_selector("#proof-row:not([hidden])")
    assert "已被其他用户绑定" in page.locator("#bind-error").inner_text()
    assert _axe_violations(page) == []

    # 无感支付: signed for a bound plate through the sandbox channel, then ended
    page.select_option("#sign-channel", "sandbox")
    assert page.is_visible("#sign-ref")  # the sandbox, like Alipay, gives an agreement number
    page.fill("#sign-ref", "AG-ME-1")
    page.select_option("#sign-plate", "苏B12345")
    page.click("#sign button[type=submit]")
    page.wait_for_selector("#agreements .item .state")
    signed = page.locator("#agreements .item").inner_text()
    assert "苏B12345" in signed and "生效" in signed
    assert _axe_violations(page) == []
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[aria-label='解约 苏B12345']")
    page.wait_for_function("() => document.querySelector('#agreements .item').innerText.includes('已解约')")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[aria-label='解绑 苏B22222']")
    page.wait_for_function("() => document.querySelectorAll('#plates .plate').length === 1")

    normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#elder")
    assert page.get_attribute("#elder", "aria-pressed") == "true"
    page.reload()
    page.wait_for_selector("#current .item")
    assert page.evaluate("document.documentElement.classList.contains('elder')")
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > normal
    assert _axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "wuxi-me.png"), full_page=True)
    context.close()


def test_the_page_without_login_tells_how_to_get_in(server, chromium):
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/me/")
    assert "请在微信中打开" in page.inner_text("main")
    assert _axe_violations(page) == []
    context.close()
