"""Booking a hospital slot on a phone, in a real headless chromium: the citizen picks a slot with
a bound plate, sees the code and its QR code to show at the gate, finds it under my bookings and
cancels it. The page is served by pytest-django's live server in this process, so the bound-plates
port the test registers is the one the page asks. A screenshot lands in the temp directory."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.common.citizens import register_bound_plates
from apps.reservations.models import Reservation, Slot
from tests.factories import UserFactory
from tests.factories_reservations import BoundPlates, HospitalFactory, SlotFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
SCREENSHOT = Path(tempfile.gettempdir()) / "wuxi-reservations-phone.png"


@pytest.fixture(autouse=True)
def _sync_orm_beside_playwright(monkeypatch):
    """Playwright's sync API keeps an event loop in this thread; the test's own ORM calls run between
    its calls, never inside the loop, so Django's async guard is told so."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def citizen(city):
    resolver = BoundPlates()
    register_bound_plates(resolver)
    yield resolver.bind(UserFactory(username="patient"), "苏B12345")
    register_bound_plates(None)


def test_a_citizen_books_on_a_phone_and_sees_the_code_to_show_at_the_gate(live_server, chromium, citizen):
    hospital = HospitalFactory(name="无锡市人民医院")
    starts = (timezone.localtime() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    slot = SlotFactory(hospital=hospital, starts_at=starts, quota=3)
    SlotFactory(hospital=hospital, starts_at=starts + timedelta(hours=1), quota=0)  # full
    garage = HospitalFactory(name="万达广场", kind="lot", waives_fee=False, ev_free_minutes=120)
    ev_slot = SlotFactory(hospital=garage, starts_at=starts, quota=4, berth_kind="ev")
    client = Client()
    client.force_login(citizen)
    context = chromium.new_context(**PHONE)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    blocked = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(live_server.url)
               else (blocked.append(route.request.url), route.abort()))
    page.goto(f"{live_server.url}/reservations/")
    page.locator(f"[data-slot='{slot.pk}']").wait_for(timeout=15_000)
    assert page.title() == "无锡停车 · 预约停车"
    assert page.input_value("#plate") == "苏B12345"
    assert "余 3" in page.inner_text(f"[data-slot='{slot.pk}']")
    full = page.locator("button.slot--full")
    assert full.count() == 1 and full.is_disabled() and "已约满" in full.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    ev_card = page.locator(f"[data-hospital='{garage.pk}']")
    assert "120 分钟内停车免费" in ev_card.inner_text() and "充电泊位" in ev_card.inner_text()
    assert "余 4" in page.inner_text(f"[data-slot='{ev_slot.pk}']")

    page.click(f"[data-slot='{slot.pk}']")
    page.locator("#booking-code").wait_for(timeout=15_000)
    reservation = Reservation.objects.get()
    assert page.inner_text("#booking-code") == reservation.code
    page.wait_for_function("() => document.getElementById('booking-qr').naturalWidth > 0", timeout=15_000)
    box = page.locator("#booking-qr").bounding_box()
    assert box["width"] >= 150 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert Slot.objects.get(pk=slot.pk).booked == 1

    page.locator(f"[data-reservation='{reservation.pk}']").wait_for(timeout=15_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"[data-reservation='{reservation.pk}'] button.danger")
    page.locator(".notice--ok").wait_for(timeout=15_000)
    assert Reservation.objects.get().state == "cancelled"
    assert Slot.objects.get(pk=slot.pk).booked == 0
    assert not blocked  # nothing from a CDN
    context.close()
