"""The dashboard page and its exports: scoped by region and operator, each export equal to its table,
the rollups idempotent, the hotspots persistent, and the page's queries bounded."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import RequestFactory
from django.utils import timezone
from openpyxl import load_workbook

from apps.analytics.dashboards import panels
from apps.analytics.dashboards.rollup import region_days_refresh
from apps.analytics.models import LotDay, RegionDay, RegionHour
from apps.regions.models import Operator
from tests.factories import LotFactory, OperatorFactory, UserFactory

from .conftest import days_before, lot_days, lot_hours, refresh, state_lot

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/dashboard/"
BH_PAID_FEN = 987_654_321  # 滨湖's takings: a number that appears nowhere else
BH_NAME = "蠡湖独有停车场"


@pytest.fixture
def today_now():
    return timezone.now()


@pytest.fixture
def two_districts(city, today_now):
    """Two 梁溪 lots (one a hotspot every day of the last four weeks), one 滨湖 lot, with 40 lot days
    and a week of lot hours each, rolled up."""
    lx, bh = city["320213"], city["320211"]
    days = days_before(today_now, 40)
    lx_op = OperatorFactory(region=lx, ownership=Operator.Ownership.STATE_OWNED, name="梁溪停车运营公司")
    hot = state_lot(lx, code="LX-HOT", name="三阳广场地下停车场", operator=lx_op, now=today_now, lat=31.58, lon=120.30)
    calm = state_lot(lx, code="LX-CALM", name="梁溪安静停车场", operator=lx_op, now=today_now)
    far = state_lot(bh, code="BH-ONLY", name=BH_NAME, now=today_now, lat=31.49, lon=120.26)
    lot_days(hot, days, peak_ratio=0.95, hours_over_90=3, paid_fen=12_000, billed_fen=15_000, arrears_new_fen=3_000,
             arrears_recovered_fen=1_000)
    lot_days(calm, days, paid_fen=4_000, billed_fen=4_000)
    lot_days(far, days, peak_ratio=0.97, paid_fen=BH_PAID_FEN, billed_fen=BH_PAID_FEN)
    for day in days[-7:]:
        lot_hours(hot, day, {8: 92.0, 9: 96.0, 18: 60.0})
        lot_hours(far, day, {8: 10.0, 9: 11.0})
    refresh(today_now, 41)
    return {"hot": hot, "calm": calm, "far": far, "lx_op": lx_op}


class Tables(HTMLParser):
    """The page's tables: panel key → rows of cell texts (header row first)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._key = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-panel" in attrs:
            self._key = attrs["data-panel"]
            self.tables[self._key] = []
        elif self._key and tag == "tr":
            self._row = [] if "dash-empty" not in (attrs.get("class") or "") else None
        elif self._key and tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._key = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._key:
            self.tables[self._key].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def page_tables(content: bytes) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(content.decode())
    return parser.tables


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(response) -> list[list[str]]:
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    return [["" if v is None else (str(v)) for v in row] for row in rows[1:]]  # first row: the title


def test_the_city_sees_every_district_and_every_panel(client, staff_factory, two_districts):
    client.force_login(staff_factory("city"))
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "全市监管看板" in text
    tables = page_tables(response.content)
    assert set(tables) == set(panels.PANELS)
    money = {row[0]: row for row in tables["money-districts"][1:]}
    assert set(money) == {"梁溪区", "滨湖区"}
    assert money["梁溪区"][2] == f"{30 * 16_000 / 100:.2f}"  # the default 30 days of 120 + 40 yuan
    longer = {row[0]: row for row in page_tables(client.get(URL, {"days": 90}).content)["money-districts"][1:]}
    assert longer["梁溪区"][2] == f"{40 * 16_000 / 100:.2f}"  # all 40 days there are
    hot = [row[0] for row in tables["hotspots"][1:]]
    assert hot == ["BH-ONLY", "LX-HOT"]  # 0.97 then 0.95 at peak, every day; the calm lot is none
    assert 'src="/static/vendor/echarts/echarts.min.js"' in text and "leaflet-heat.js" in text


def test_a_liangxi_officer_sees_no_binhu_numbers_in_the_page_or_any_export(client, officer, two_districts):
    client.force_login(officer)
    response = client.get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    assert "梁溪区监管看板" in text
    for forbidden in (BH_NAME, "BH-ONLY", "滨湖", f"{BH_PAID_FEN / 100:.2f}"):
        assert forbidden not in text
    tables = page_tables(response.content)
    assert [row[0] for row in tables["hotspots"][1:]] == ["LX-HOT"]
    for key in panels.PANELS:
        for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
            exported = read(client.get(f"{URL}export/{key}.{fmt}"))
            flat = " ".join(" ".join(row) for row in exported)
            assert "滨湖" not in flat and BH_NAME not in flat and str(BH_PAID_FEN // 100) not in flat, (key, fmt)
    # asking for 滨湖 by its id changes nothing: the area is not theirs
    bh = two_districts["far"].region_id
    assert page_tables(client.get(URL, {"area": bh}).content)["money-districts"][1:] == tables["money-districts"][1:]


def test_an_operators_staff_see_their_own_lots_only(client, staff_factory, two_districts):
    client.force_login(staff_factory("operator", two_districts["lx_op"]))
    response = client.get(URL)
    text = response.content.decode()
    assert "梁溪停车运营公司运营看板" in text and BH_NAME not in text
    operators = page_tables(response.content)["money-operators"][1:]
    assert [row[0] for row in operators] == ["梁溪停车运营公司"]


def test_each_export_is_exactly_its_table(client, staff_factory, two_districts):
    client.force_login(staff_factory("city"))
    page = page_tables(client.get(URL, {"days": 90}).content)
    for key in sorted(panels.PANELS):
        shown = page[key]
        as_csv = csv_rows(client.get(f"{URL}export/{key}.csv", {"days": 90}))
        as_xlsx = xlsx_rows(client.get(f"{URL}export/{key}.xlsx", {"days": 90}))
        assert as_csv == shown, key
        assert [[_num(c) for c in row] for row in as_xlsx] == [[_num(c) for c in row] for row in shown], key
    assert len(page["hotspots"]) == 3 and len(page["money-districts"]) == 3  # header and two rows: not empty


def _num(cell: str) -> str:
    """A spreadsheet keeps 12.50 as the number 12.5: compare numbers as numbers."""
    return str(float(cell)) if re.fullmatch(r"-?\d+(\.\d+)?", cell) else cell


def test_an_unknown_panel_or_format_is_not_found_and_a_citizen_is_sent_to_log_in(client, staff_factory, db):
    client.force_login(staff_factory("city"))
    assert client.get(f"{URL}export/nothing.csv").status_code == 404
    assert client.get(f"{URL}export/hotspots.pdf").status_code == 404
    client.logout()
    assert client.get(URL).status_code == 302
    assert client.get(f"{URL}export/hotspots.csv").status_code == 302


def test_bad_query_values_fall_back_to_the_defaults(client, staff_factory, two_districts):
    client.force_login(staff_factory("city"))
    response = client.get(URL, {"days": "9" * 40, "area": "x", "year": "-1"})
    assert response.status_code == 200
    q = response.context["query"]
    assert (q.days, q.area, q.year) == (panels.DEFAULT_DAYS, None, 2026)


def test_the_hour_panel_reads_the_rollups_per_area(client, staff_factory, two_districts):
    client.force_login(staff_factory("city"))
    lx = two_districts["hot"].region_id
    rows = page_tables(client.get(URL, {"area": lx}).content)["occupancy-hours"]
    assert rows[0][:1] == ["星期"] and len(rows) == 8
    # every weekday of the last week: 92% at 08:00 and 96% at 09:00 in 梁溪 (100 berths)
    assert {row[9] for row in rows[1:]} == {"92.0"} and {row[10] for row in rows[1:]} == {"96.0"}
    assert {row[1] for row in rows[1:]} == {"—"}


def test_the_rollup_is_recomputed_whole(city, two_districts, today_now):
    day = days_before(today_now, 1)[0]
    before = (RegionDay.objects.filter(day=day).count(), RegionHour.objects.filter(day=day).count())
    assert region_days_refresh(day=day) == before  # again: replaced, not added
    assert (RegionDay.objects.filter(day=day).count(), RegionHour.objects.filter(day=day).count()) == before
    lx_row = RegionDay.objects.get(day=day, region=city["320213"])
    assert (lx_row.lots, lx_row.paid_fen, lx_row.lot_days_over_90) == (2, 16_000, 1)


def test_a_lot_over_90_on_too_few_days_is_not_a_hotspot(city, today_now):
    lot = LotFactory(code="LX-SOME", region=city["320213"])
    days = days_before(today_now, 28)
    lot_days(lot, days[:10], peak_ratio=0.95)
    lot_days(lot, days[10:], peak_ratio=0.5)
    refresh(today_now, 28)
    request = RequestFactory().get(URL)
    request.user = UserFactory(is_superuser=True, is_staff=True)
    q = panels.Query.from_request(request, now=today_now)
    assert panels.hotspot_rows(q) == []
    lot_days(lot, [days[0] - timedelta(days=1)], peak_ratio=0.95)  # outside the four weeks: still none
    refresh(today_now, 29)
    assert panels.hotspot_rows(q) == []
    LotDay.objects.filter(lot=lot, day__in=days[10:14]).update(peak_ratio=0.92)  # 14 of 28: now one
    refresh(today_now, 28)
    assert [(r["code"], r["days"], r["over"], r["share"]) for r in panels.hotspot_rows(q)] == [
        ("LX-SOME", 28, 14, 50.0)]


def test_the_page_costs_a_bounded_number_of_queries(client, staff_factory, two_districts,
                                                     django_assert_max_num_queries):
    client.force_login(staff_factory("city"))
    client.get(URL)
    for n in range(5):  # more lots with summaries: the same queries
        lot = state_lot(two_districts["hot"].region, code=f"LX-MORE-{n}")
        lot_days(lot, days_before(timezone.now(), 30))
    refresh(timezone.now(), 31)
    with django_assert_max_num_queries(45):
        assert client.get(URL).status_code == 200
