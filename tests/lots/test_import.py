"""Importing a region's lot inventory (底册清单) from CSV and XLSX."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from apps.common.geo import gcj02_to_wgs84, wgs84_to_gcj02
from apps.lots import inventory
from apps.lots.errors import OutOfScope
from apps.lots.models import ParkingLot
from apps.lots.services import lots_import
from tests.factories import LotFactory, OperatorFactory, TariffFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"
HEADERS = ["编码*", "名称*", "地址", "经营单位统一社会信用代码", "类型", "片区", "道路等级", "纬度*", "经度*",
           "坐标系", "总泊位*", "充电泊位", "收费标准标识", "允许先离场后付费"]
IMPORT_URL = "admin:lots_parkinglot_import"


def good_rows(operator_code="", tariff_key=""):
    return [
        ["LX-5001", "南禅寺地下停车场", "南长街1号", operator_code, "路外停车场", "", "", "31.5623", "120.3089",
         "WGS-84", "300", "20", tariff_key, "是"],
        ["LX-5002", "中山路道路泊位", "中山路", "", "道路泊位", "核心", "干道", "31.5790", "120.3000",
         "", "40", "0", "", "否"],
    ]


def csv_bytes(rows, headers=HEADERS, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, headers=HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        # numbers as numbers, as Excel stores them
        sheet.append([float(v) if v.replace(".", "", 1).isdigit() and "-" not in v else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(client, data: bytes, name: str, region):
    """Upload a file: the preview page, or the form again with what is wrong."""
    return client.post(reverse(IMPORT_URL), {"region": region.pk, "file": SimpleUploadedFile(name, data)})


def confirm(client, preview, **overrides):
    assert preview.status_code == 200 and "pending" in preview.context, report_errors(preview)
    pending = preview.context["pending"]
    data = {"token": pending["token"], "digest": pending["digest"], "confirm": "1", **overrides}
    return client.post(reverse(IMPORT_URL), data)


def import_file(client, data: bytes, name: str, region):
    """Upload, then confirm the preview: what staff do when the preview is right."""
    preview = upload(client, data, name, region)
    if "pending" not in (preview.context or {}):
        return preview
    return confirm(client, preview)


def report_errors(response) -> list[tuple[int, str, str]]:
    return [(e.row, e.column, e.message) for e in (response.context or {}).get("errors", [])]


# -- through the admin ---------------------------------------------------------------------------
def test_changelist_has_the_import_button(logged_in):
    page = logged_in.get(reverse("admin:lots_parkinglot_changelist"))
    assert reverse(IMPORT_URL) in page.text and "导入底册" in page.text


def test_good_csv_creates_lots_with_history(logged_in, city, officer):
    operator = OperatorFactory(region=city[LX])
    tariff = TariffFactory(key="lx-core", region=city[LX])
    data = csv_bytes(good_rows(operator.credit_code.lower(), "lx-core"))
    response = import_file(logged_in, data, "底册.csv", city[LX])
    assert response.status_code == 302, report_errors(response)
    first = ParkingLot.objects.get(code="LX-5001")
    assert (first.name, first.region, first.operator, first.tariff) == ("南禅寺地下停车场", city[LX], operator, tariff)
    assert (first.total_berths, first.free_berths, first.ev_berths, first.allow_pay_later) == (300, 300, 20, True)
    street = ParkingLot.objects.get(code="LX-5002")
    assert (street.kind, street.zone_class, street.road_class) == ("on_street", "core", "arterial")
    assert first.history.get().history_user == officer
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("新增 2" in m for m in messages)


def test_good_xlsx(logged_in, city):
    response = import_file(logged_in, xlsx_bytes(good_rows()), "底册.xlsx", city[LX])
    assert response.status_code == 302, report_errors(response)
    assert ParkingLot.objects.get(code="LX-5001").total_berths == 300
    assert ParkingLot.objects.count() == 2


def test_gbk_csv(logged_in, city):
    response = import_file(logged_in, csv_bytes(good_rows(), encoding="gbk"), "gbk.csv", city[LX])
    assert response.status_code == 302, report_errors(response)
    assert ParkingLot.objects.get(code="LX-5002").name == "中山路道路泊位"


def test_utf8_without_bom(logged_in, city):
    response = import_file(logged_in, csv_bytes(good_rows(), encoding="utf-8"), "plain.csv", city[LX])
    assert response.status_code == 302, report_errors(response)


def test_one_bad_row_is_reported_and_nothing_is_saved(logged_in, city):
    rows = good_rows()
    rows.append(["LX-5003", "太湖边上", "", "", "", "", "", "31.5", "121.5", "", "10", "", "", ""])  # not Wuxi
    response = upload(logged_in, csv_bytes(rows), "bad.csv", city[LX])
    assert response.status_code == 200
    assert report_errors(response) == [(4, "纬度", "坐标不在无锡市范围内")]
    assert "本次导入未保存任何数据" in response.text
    assert not ParkingLot.objects.exists()


def test_each_kind_of_bad_row_is_named(logged_in, city):
    TariffFactory(key="bh-only", region=city[BH])  # not visible to a 梁溪 officer
    LotFactory(code="BH-7000", region=city[BH])
    rows = [
        ["LX-6001", "甲", "", "", "", "", "", "31.56", "120.30", "", "10", "", "", ""],
        ["LX-6001", "重复", "", "", "", "", "", "31.56", "120.30", "", "10", "", "", ""],
        ["LX-6002", "乙", "", "91320200MA1MXXXXX0", "", "", "", "31.56", "120.30", "", "10", "", "", ""],
        ["LX-6003", "丙", "", "", "", "", "", "31.56", "120.30", "", "10", "", "no-such", ""],
        ["LX-6004", "丁", "", "", "", "", "", "31.56", "120.30", "", "10", "", "bh-only", ""],
        ["BH-7000", "戊", "", "", "", "", "", "31.56", "120.30", "", "10", "", "", ""],
        ["LX-6005", "己", "", "", "", "", "", "abc", "120.30", "", "十", "", "", "也许"],
        ["LX-6006", "庚", "", "", "道路泊位", "", "", "31.56", "120.30", "", "10", "", "", ""],
        ["LX-6007", "辛", "", "", "", "", "", "31.56", "120.30", "", "10", "20", "", ""],
        ["", "无编码", "", "", "", "", "", "31.56", "120.30", "", "10", "", "", ""],
    ]
    response = upload(logged_in, csv_bytes(rows), "bad.csv", city[LX])
    errors = report_errors(response)
    by_row = {}
    for row, column, _message in errors:
        by_row.setdefault(row, set()).add(column)
    assert by_row == {
        3: {"编码"},  # duplicate of row 2
        4: {"经营单位统一社会信用代码"},
        5: {"收费标准标识"},
        6: {"收费标准标识"},
        7: {"编码"},  # used by a 滨湖 lot
        8: {"纬度", "总泊位", "允许先离场后付费"},
        9: {"片区"},
        10: {"充电泊位"},
        11: {"编码"},
    }
    messages = {row: msg for row, _col, msg in errors}
    assert "第 2 行重复" in messages[3]
    assert "校验位" in messages[4] or "字符" in messages[4]
    assert "no-such" in messages[5]
    assert not ParkingLot.objects.exclude(code="BH-7000").exists()


def test_cross_region_import_refused_in_the_form(logged_in, city):
    response = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[BH])
    assert response.status_code == 200
    assert "region" in response.context["form"].errors
    assert not ParkingLot.objects.exists()


def test_row_region_outside_the_chosen_region_is_an_error(logged_in, city):
    headers = [*HEADERS, "区域代码"]
    rows = [[*good_rows()[0], BH]]
    response = upload(logged_in, csv_bytes(rows, headers), "x.csv", city[LX])
    assert [(r, c) for r, c, _m in report_errors(response)] == [(2, "区域代码")]


def test_existing_code_in_scope_is_updated_in_place(logged_in, city):
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名", total_berths=500, free_berths=450)
    response = import_file(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    assert response.status_code == 302, report_errors(response)
    lot.refresh_from_db()
    assert (lot.name, lot.total_berths, lot.free_berths) == ("南禅寺地下停车场", 300, 300)
    assert lot.history.first().history_type == "~"
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("新增 1" in m and "更新 1" in m for m in messages)


def test_file_level_problems(logged_in, city):
    unknown = upload(logged_in, csv_bytes(good_rows(), [*HEADERS[:-1], "总泊位数"]), "x.csv", city[LX])
    assert (1, "总泊位数", "无法识别的列名，请使用模板中的列名") in report_errors(unknown)
    missing = upload(logged_in, csv_bytes([r[1:] for r in good_rows()], HEADERS[1:]), "x.csv", city[LX])
    assert (1, "编码", "缺少必填列") in report_errors(missing)
    broken = upload(logged_in, b"PK\x03\x04 not really a workbook", "x.xlsx", city[LX])
    assert "XLSX" in report_errors(broken)[0][2]
    empty = upload(logged_in, b"\xef\xbb\xbf\r\n\r\n", "x.csv", city[LX])
    assert report_errors(empty)[0][2] == "文件为空"
    assert not ParkingLot.objects.exists()


def test_templates_download_and_their_example_row_is_refused(client, city, staff_factory):
    client.force_login(staff_factory("city"))
    csv_template = client.get(reverse("admin:lots_parkinglot_import_template", args=["csv"]))
    assert csv_template.content.startswith(b"\xef\xbb\xbf")
    assert csv_template.content.decode("utf-8-sig").splitlines()[0].startswith("编码*,名称*,地址")
    xlsx_template = client.get(reverse("admin:lots_parkinglot_import_template", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx_template.content)).active
    assert sheet["A1"].value == "编码*" and sheet["A1"].comment is not None
    assert sheet["A2"].value == inventory.EXAMPLE_CODE and "示例" in sheet["A2"].comment.text
    for template, name in ((xlsx_template.content, "template.xlsx"), (csv_template.content, "template.csv")):
        response = upload(client, template, name, city[LX])
        assert response.status_code == 200 and "pending" not in response.context
        assert report_errors(response) == [(2, "编码", "这是模板中的示例行，请删除此行后再导入")]
    assert not ParkingLot.objects.exists()


def test_operator_staff_cannot_import(client, city, staff_factory):
    client.force_login(staff_factory("operator", OperatorFactory()))
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    assert "导入底册" not in client.get(reverse("admin:lots_parkinglot_changelist")).text


# -- the service and the reader ------------------------------------------------------------------
def service_import(region, rows, actor=None, source=""):
    """The service as the admin calls it: the plan's digest is what staff confirmed."""
    plan = inventory.plan_import(rows, region=region, actor=actor)
    return lots_import(actor=actor, region=region, rows=rows, digest=plan.digest, source=source)


def test_service_refuses_import_outside_scope(city, officer):
    rows = inventory.read_inventory(csv_bytes(good_rows()))
    with pytest.raises(OutOfScope):
        service_import(city[BH], rows, actor=officer)
    assert not ParkingLot.objects.exists()


def test_english_headers_and_gcj02_rows(city):
    wgs = (31.5623, 120.3089)
    gcj = wgs84_to_gcj02(*wgs)
    data = csv_bytes([["LX-8001", "英文表头", f"{gcj[0]:.7f}", f"{gcj[1]:.7f}", "gcj02", "50"]],
                     ["code", "name", "latitude", "lon", "coord_system", "total_berths"])
    report = service_import(city[LX], inventory.read_inventory(data))
    assert report.ok and report.created == 1
    lot = ParkingLot.objects.get()
    expected = gcj02_to_wgs84(float(f"{gcj[0]:.7f}"), float(f"{gcj[1]:.7f}"))
    assert (lot.lat, lot.lon) == pytest.approx(expected, abs=1e-9)
    assert lot.source_coord_system == "gcj02"


def test_blank_lines_keep_spreadsheet_row_numbers(city):
    data = csv_bytes([good_rows()[0], [""] * len(HEADERS), ["LX-9", "x", "", "", "", "", "", "1", "1", "", "1",
                                                            "", "", ""]])
    report = service_import(city[LX], inventory.read_inventory(data))
    assert [(e.row, e.column) for e in report.errors] == [(4, "纬度")]


def test_header_key_accepts_marks_and_notes():
    assert inventory.header_key("纬度（WGS-84）") == "lat"
    assert inventory.header_key(" 编码* ") == "code"
    assert inventory.header_key("Latitude") == "lat"
    assert inventory.header_key("总泊位数") is None


def test_decode_detects_encodings():
    text = "编码,名称\r\n"
    assert inventory.decode_csv(text.encode("utf-8-sig")) == text
    assert inventory.decode_csv(text.encode("gbk")) == text
    assert inventory.decode_csv(text.encode("gb18030")) == text


def test_query_count_does_not_grow_with_rows(city, django_assert_max_num_queries):
    def rows(n):
        return inventory.read_inventory(csv_bytes(
            [[f"LX-{i:04d}", f"场{i}", "", "", "", "", "", "31.56", "120.30", "", "10", "", "", ""] for i in range(n)]))

    few, many = rows(2), rows(40)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        inventory.plan_import(few, region=city[LX])
    with django_assert_max_num_queries(len(small.captured_queries)):
        inventory.plan_import(many, region=city[LX])
