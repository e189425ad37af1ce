"""The supervision dashboard in a real headless chromium, on a closed network (tiles refused): every
chart is drawn by ECharts, the hotspots' heat layer by Leaflet.heat, and the console stays clean, at
the 1366 px staff work at and on a phone."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from apps.analytics.dashboards import panels
from tests.analytics.dashboards.conftest import days_before, lot_days, lot_hours, refresh, state_lot
from tests.otp import totp_code
from tests.realtime.live import live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "dashboard-test-2026"
SIZES = {"desk": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def city_staff(city, staff_factory):
    user = staff_factory("city", username="city-dashboard")
    user.set_password(PASSWORD)
    user.save()
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # City-wide staff log in with a TOTP code; a code is good once, so each login has its own device
    # (made here: the test's body runs beside Playwright's event loop, where the ORM may not).
    user.devices = {size: TOTPDevice.objects.create(user=user, name=f"phone-{size}", confirmed=True) for size in SIZES}
    now = timezone.now()
    days = days_before(now, 30)
    for n, (code, region) in enumerate((("LX-H1", "320213"), ("BH-H2", "320211"), ("XS-3", "320205"))):
        lot = state_lot(city[region], code=code, now=now, lat=31.50 + n * 0.04, lon=120.25 + n * 0.03)
        lot_days(lot, days, peak_ratio=0.95 if n < 2 else 0.4, paid_fen=10_000 * (n + 1), billed_fen=12_000 * (n + 1),
                 arrears_new_fen=2_000, arrears_recovered_fen=500 * n)
        for day in days[-7:]:
            lot_hours(lot, day, {h: 30.0 + 2 * h for h in range(6, 22)})
    refresh(now, 31)
    return user


@pytest.fixture
def server(city_staff, tmp_path):
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def _closed_network(route):
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def test_the_dashboard_draws_its_charts_and_heat_layer_without_console_errors(server, city_staff, chromium):
    for size, viewport in SIZES.items():
        device = city_staff.devices[size]
        context = chromium.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(
            f"{m.text} ({m.location.get('url', '')})"))
        page.on("pageerror", lambda e, errors=errors: errors.append(f"page error: {e}"))
        page.route("**/*", _closed_network)
        page.goto(f"{server.url}/admin/login/?next=/admin/analytics/dashboard/")
        page.fill("#id_username", "city-dashboard")
        page.fill("#id_password", PASSWORD)
        page.fill("#id_otp_token", totp_code(device))
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/analytics/dashboard/")
        page.locator("#chart-usage[data-rendered] canvas").wait_for(timeout=15_000)
        drawn = page.evaluate("""() => [...document.querySelectorAll('.dash-chart')].map(el => ({
            id: el.id, rendered: el.dataset.rendered === '1', canvas: !!el.querySelector('canvas'),
            empty: el.classList.contains('dash-chart--empty'), height: el.getBoundingClientRect().height}))""")
        # every chart with rows is drawn on a canvas of its own (the empty ones say so instead)
        with_rows = {f"chart-{key}" for key in ("usage", "occupancy-hours", "money-districts", "money-operators",
                                                "target-networked", "target-smart", "target-pay_code",
                                                "target-pay_later")}
        by_id = {d["id"]: d for d in drawn}
        assert with_rows <= set(by_id), sorted(by_id)
        for chart_id in with_rows:
            assert by_id[chart_id]["rendered"] and by_id[chart_id]["canvas"] and by_id[chart_id]["height"] > 100, \
                (size, by_id[chart_id])
        assert all(d["rendered"] or d["empty"] for d in drawn), drawn
        # the hotspots' heat layer: Leaflet.heat's canvas and one marker per hotspot (LX-H1 and BH-H2)
        page.locator("#chart-hotspots canvas.leaflet-heatmap-layer").wait_for(timeout=5_000)
        assert page.locator("#chart-hotspots path.leaflet-interactive").count() == 2
        assert page.locator('table[data-panel="hotspots"] tbody tr').count() == 2
        # the tables are there for every panel, and the numbers readable without the charts
        assert page.locator("table.dash-table").count() == len(panels.PANELS)
        ours = [e for e in errors if "tile.openstreetmap.org" not in e]
        assert ours == [], (size, ours)
        page.screenshot(path=str(Path(tempfile.gettempdir()) / f"dashboard-{size}.png"), full_page=True)
        context.close()
