"""The inventory import's preview in a real headless chromium at 1366 px, the width staff work at.

A screenshot is left in the temp directory to be looked at by hand (never committed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.factories import LotFactory, OperatorFactory, TariffFactory
from tests.lots.test_import import csv_bytes, good_rows
from tests.otp import totp_code
from tests.realtime.live import live_servers, process_options, shared_database_name

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESK = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
SCREENSHOT = Path(tempfile.gettempdir()) / "import-preview-1366.png"
PASSWORD = "preview-test-2026"


@pytest.fixture
def staff(city, staff_factory):
    user = staff_factory("region", "320213", username="liangxi-preview")
    user.set_password(PASSWORD)
    user.save()
    # A district officer may ask for refunds, so the admin asks for a TOTP code (apps/common/mfa.py).
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user.totp = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    LotFactory(code="LX-5001", name="无锡市第二人民医院（中山路院区）地下停车场", region=city["320213"],
               total_berths=600, free_berths=412, operator=OperatorFactory(region=city["320213"]),
               tariff=TariffFactory(region=city["320213"], key="lx-hospital", name="试点医院"),
               address="中山路68号", category="hospital")
    TariffFactory(region=city["320213"], key="lx-core", name="梁溪核心片区干道")
    for n in range(3):  # rows the file leaves as they are
        LotFactory(code=f"LX-59{n:02d}", name=f"未变化停车场{n}", region=city["320213"], operator=None, tariff=None,
                   lat=31.5700, lon=120.3000, total_berths=50, free_berths=50, address="")
    return user


@pytest.fixture
def server(staff, tmp_path):
    with live_servers(1, process_options(shared_database_name(tmp_path))) as (live,):
        yield live


def inventory_file() -> bytes:
    rows = good_rows(tariff_key="lx-core")
    rows += [[f"LX-59{n:02d}", f"未变化停车场{n}", "", "", "", "", "", "31.5700", "120.3000", "", "50", "0", "", "否"]
             for n in range(3)]
    return csv_bytes(rows)


def test_the_preview_reads_well_at_1366px_and_confirms(server, chromium, staff):
    context = chromium.new_context(**DESK)
    page = context.new_page()
    page.goto(f"{server.url}/admin/login/?next=/admin/lots/parkinglot/import/")
    page.fill("#id_username", "liangxi-preview")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_otp_token", totp_code(staff.totp))
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/lots/parkinglot/import/")
    page.set_input_files("#id_file", files=[{"name": "梁溪底册.csv", "mimeType": "text/csv",
                                              "buffer": inventory_file()}])
    page.click("input[type=submit].default")
    page.locator("#import-preview").wait_for(timeout=15_000)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    assert page.title().startswith("核对导入内容")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
    changes = page.locator("#import-updates ul.changes li")
    assert changes.count() >= 3
    assert "名称" in changes.first.inner_text() and "→" in changes.first.inner_text()
    # The lot is named as staff know it now; the new name is among the changes.
    assert page.inner_text("#import-updates td.lot-name") == "无锡市第二人民医院（中山路院区）地下停车场"
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#import-updates td')).lineHeight)")
    for box in (changes.nth(i).bounding_box() for i in range(changes.count())):
        assert box["height"] <= 3 * line  # a change reads on a line or two, not a character a line
    # A table cell is as tall as its row: measure the text in it.
    text_height = """cell => { const range = document.createRange(); range.selectNodeContents(cell);
                                 return range.getBoundingClientRect().height; }"""
    name_cell = page.locator("#import-updates td.lot-name").first
    assert name_cell.bounding_box()["width"] > 150 and name_cell.evaluate(text_height) < 3 * line
    for cell in page.locator("#import-updates td.code, #import-creates td.code").all():
        assert cell.evaluate(text_height) < 1.5 * line  # codes never wrap
    assert page.locator("#import-creates tbody tr").count() == 1
    assert "3 行与现有数据相同" in page.inner_text(".summary")
    confirm = page.locator("input[name=confirm]")
    assert confirm.is_visible()

    confirm.click()
    page.wait_for_url("**/admin/lots/parkinglot/")
    assert "导入完成：新增 1 个，更新 1 个停车场，3 个未变化" in page.inner_text(".messagelist")
    context.close()
