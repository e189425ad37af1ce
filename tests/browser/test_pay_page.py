"""The pay page at a lot's code in a real headless chromium on a phone-sized screen, against a real
ASGI server: enter the plate, see what is due, pay through the sandbox cashier (whose signed notice
goes back to the server's own callback over HTTP), see the receipt; then the lot sends the exit
again and the barrier opens as ``paid``. Screenshots land in the temporary directory
(``wuxi-pay*.png``) to be looked at by hand."""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.sessions.signing import signed_headers
from tests.factories import DeviceFactory
from tests.factories_payments import Gate, flat_lot
from tests.realtime.live import INGEST_PATH, live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai",
         "user_agent": "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Mobile MicroMessenger/8.0.40"}
SHOTS = tempfile.gettempdir()


@pytest.fixture
def stopped(city):
    """A car that exited unpaid, 70 minutes after it entered: 6 yuan at 2 yuan a half hour."""
    lot = flat_lot(code="LX-PAY-1", name="崇安寺停车场", region=city["320213"])
    gate = Gate(lot)
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=70))
    decision = gate.exit("苏B12345", at=timezone.now() - timedelta(seconds=10))
    assert decision["release_reason"] == "unpaid" and decision["due_fen"] == 600
    device, secret = DeviceFactory.issue(lots=[lot])
    return {"lot": lot, "session_id": decision["session_id"], "key": (device.access_key, secret),
            "at": (decision["entry_at"], decision["exit_at"])}


@pytest.fixture
def server(stopped, tmp_path):
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def _exit_again(server, stopped) -> dict:
    event = {"event_id": uuid.uuid4().hex, "type": "exit", "lot_code": stopped["lot"].code,
             "occurred_at": timezone.localtime().isoformat(), "plate": "苏B12345", "plate_color": "blue"}
    body = json.dumps({"events": [event]}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed_headers(*stopped["key"], "POST", INGEST_PATH, body)}
    response = httpx.post(f"{server.url}{INGEST_PATH}", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["session"]


def test_a_driver_pays_at_the_code_on_a_phone_and_the_resent_exit_opens_the_barrier(stopped, server, chromium):
    assert _exit_again(server, stopped)["release_reason"] == "unpaid"  # not paid yet
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith(server.url) and not request.url.startswith("data:") else None)

    page.goto(f"{server.url}/pay/{stopped['lot'].code}/")
    assert page.locator("#lot-name").inner_text() == "崇安寺停车场"
    page.fill("#plate", "苏b 12345")
    page.click("#btn-query")
    page.wait_for_selector("#due:not([hidden])")
    assert "6.00" in page.locator("#due-total").inner_text()
    assert page.locator("input[name=channel]").count() >= 1
    page.screenshot(path=f"{SHOTS}/wuxi-pay-due.png", full_page=True)

    page.check("input[name=channel][value=sandbox]")
    page.click("#btn-pay")
    page.wait_for_url("**/pay/cashier/**")
    assert "6.00" in page.locator("#amount").inner_text()
    page.screenshot(path=f"{SHOTS}/wuxi-pay-cashier.png", full_page=True)
    page.click("#btn-sandbox-pay")
    page.wait_for_url(f"**/pay/{stopped['lot'].code}/?order=*")
    page.wait_for_selector("#receipt[data-state=paid]", timeout=20000)
    receipt = page.locator("#receipt").inner_text()
    assert "支付成功" in receipt and "6.00" in receipt and "15" in receipt
    page.screenshot(path=f"{SHOTS}/wuxi-pay-receipt.png", full_page=True)
    context.close()

    decision = _exit_again(server, stopped)
    assert (decision["session_id"], decision["release"], decision["release_reason"]) == (
        stopped["session_id"], True, "paid")
    assert decision["paid_fen"] == 600 and decision["due_fen"] == 0
    assert outside == []  # no CDN, nothing from outside the platform


def test_the_stay_is_shown_in_the_citys_time_whatever_the_phones_zone(stopped, server, chromium):
    """A visitor's phone still on London time is shown the entry and exit as the lot's barrier saw
    them (Asia/Shanghai), not eight hours off."""
    context = chromium.new_context(**{**PHONE, "timezone_id": "Europe/London"})
    page = context.new_page()
    page.goto(f"{server.url}/pay/{stopped['lot'].code}/")
    page.fill("#plate", "苏B12345")
    page.click("#btn-query")
    page.wait_for_selector("#due:not([hidden])")
    shown = page.locator("#due").inner_text()
    for at in stopped["at"]:
        assert timezone.localtime(parse_datetime(at)).strftime("%Y-%m-%d %H:%M") in shown, shown
    context.close()
