"""Inventory import shows a preview that staff confirm; what is written is what was previewed.

The incident: the template's example row used a real demo code (LX-0001) and the upload wrote at
once, so uploading the template unchanged renamed the pilot hospital lot, cut it from 600 to 320
berths and cleared its operator and tariff.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.lots import inventory
from apps.lots.admin_import import PENDING_KEY
from apps.lots.errors import ImportStale, LotError
from apps.lots.models import ParkingLot
from apps.lots.services import lot_save, lots_import
from tests.factories import LotFactory, OperatorFactory, TariffFactory
from tests.lots.test_import import HEADERS, IMPORT_URL, confirm, csv_bytes, good_rows, report_errors, upload

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


def hospital(city):
    return LotFactory(code="LX-0001", name="无锡市人民医院停车场", region=city[LX], total_berths=600,
                      free_berths=412, operator=OperatorFactory(region=city[LX]),
                      tariff=TariffFactory(region=city[LX], key="lx-hospital"), category="hospital")


def registry(lot: ParkingLot) -> dict:
    lot = ParkingLot.objects.get(pk=lot.pk)
    return {name: getattr(lot, ParkingLot._meta.get_field(name).attname) for name in inventory.IMPORT_FIELDS}


def pending(client) -> dict:
    return client.session[PENDING_KEY]


# -- the incident --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_uploading_the_template_unchanged_touches_no_lot(fmt, logged_in, city):
    lot = hospital(city)
    before = registry(lot)
    template = logged_in.get(reverse("admin:lots_parkinglot_import_template", args=[fmt])).content
    response = upload(logged_in, template, f"template.{fmt}", city[LX])
    assert response.status_code == 200 and "pending" not in response.context
    assert report_errors(response) == [(2, "编码", "这是模板中的示例行，请删除此行后再导入")]
    assert "本次导入未保存任何数据" in response.text
    assert registry(lot) == before and lot.history.count() == 1


def test_the_example_code_can_never_be_a_lot_code(city):
    with pytest.raises(ValidationError) as excinfo:
        ParkingLot(code=inventory.EXAMPLE_CODE, name="x", region=city[LX], lat=31.57, lon=120.3).full_clean()
    assert "code" in excinfo.value.message_dict
    with pytest.raises(LotError):
        lot_save(lot=ParkingLot(code=inventory.EXAMPLE_CODE, name="x", region=city[LX], lat=31.57, lon=120.3))
    assert inventory.is_example_code(" 示例-0002 ") and not inventory.is_example_code("LX-0001")


def test_a_file_with_only_headers_is_an_error_not_done(logged_in, city):
    for data, name in ((csv_bytes([]), "headers.csv"), (csv_bytes([], encoding="gbk"), "gbk.csv")):
        response = upload(logged_in, data, name, city[LX])
        assert response.status_code == 200 and "pending" not in response.context
        assert report_errors(response) == [(0, "", "文件中没有数据行：第一行为列名，从第二行起每行填写一个停车场")]
    with pytest.raises(inventory.InventoryFileError):
        inventory.read_inventory(csv_bytes([]))
    assert inventory.plan_import([], region=city[LX]).errors  # the service path refuses it too


# -- the preview ---------------------------------------------------------------------------------
def test_the_preview_lists_creates_updates_with_before_and_after_and_writes_nothing(logged_in, city):
    tariff = TariffFactory(key="lx-core", region=city[LX], name="梁溪核心片区")
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名", total_berths=500, free_berths=450,
                     operator=None, tariff=None, address="南长街1号", ev_berths=20, lat=31.5623, lon=120.3089,
                     allow_pay_later=True)
    before = registry(lot)
    response = upload(logged_in, csv_bytes(good_rows(tariff_key="lx-core")), "底册.csv", city[LX])
    assert response.status_code == 200, report_errors(response)
    assert [item.lot.code for item in response.context["creates"]] == ["LX-5002"]
    (update,) = response.context["updates"]
    assert update.lot.code == "LX-5001"
    assert [(c.label, c.before, c.after) for c in update.changes] == [
        ("名称", "旧名", "南禅寺地下停车场"),
        ("总泊位", "500", "300"),
        ("收费标准", "—", "梁溪核心片区"),
    ]
    assert response.context["unchanged"] == []
    page = response.text
    assert "旧名" in page and "南禅寺地下停车场" in page and "确认导入" in page and "尚未保存" in page
    # Nothing is written until staff confirm.
    assert registry(lot) == before and not ParkingLot.objects.filter(code="LX-5002").exists()
    response = confirm(logged_in, response)
    assert response.status_code == 302
    lot.refresh_from_db()
    assert (lot.name, lot.total_berths, lot.free_berths, lot.tariff) == ("南禅寺地下停车场", 300, 300, tariff)
    assert PENDING_KEY not in logged_in.session
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("新增 1" in m and "更新 1" in m and "0 个未变化" in m for m in messages)


def test_the_same_file_again_is_all_unchanged_and_offers_nothing_to_confirm(logged_in, city):
    data = csv_bytes(good_rows())
    assert confirm(logged_in, upload(logged_in, data, "x.csv", city[LX])).status_code == 302
    histories = sorted(lot.history.count() for lot in ParkingLot.objects.all())
    again = upload(logged_in, data, "x.csv", city[LX])
    assert [i.lot.code for i in again.context["unchanged"]] == ["LX-5001", "LX-5002"]
    assert again.context["creates"] == again.context["updates"] == []
    assert "确认导入" not in again.text
    assert sorted(lot.history.count() for lot in ParkingLot.objects.all()) == histories


def test_a_blank_cell_never_clears_an_existing_value(logged_in, city):
    operator = OperatorFactory(region=city[LX])
    tariff = TariffFactory(key="lx-core", region=city[LX])
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名", address="南长街1号", operator=operator,
                     tariff=tariff, total_berths=500, free_berths=450, ev_berths=20, allow_pay_later=True,
                     opening_hours="07:00-22:00", filing_status="filed", kind="on_street", zone_class="core",
                     road_class="arterial", lat=31.5623, lon=120.3089)
    before = registry(lot)
    headers = [*HEADERS, "区域代码", "开放时间", "备案状态", "运营状态", "类别"]
    row = ["LX-5001", "新名", *[""] * (len(headers) - 2)]  # every other cell blank, required ones included
    response = upload(logged_in, csv_bytes([row], headers), "x.csv", city[LX])
    (update,) = response.context["updates"]
    assert [(c.field, c.before, c.after) for c in update.changes] == [("name", "旧名", "新名")]
    assert confirm(logged_in, response).status_code == 302
    assert registry(lot) == {**before, "name": "新名"}


def test_coordinates_on_an_update_come_as_a_pair(logged_in, city):
    lot = LotFactory(code="LX-5001", region=city[LX], lat=31.5623, lon=120.3089)
    row = ["LX-5001", "", "", "", "", "", "", "31.5700", "", "", "", "", "", ""]
    response = upload(logged_in, csv_bytes([row]), "x.csv", city[LX])
    assert report_errors(response) == [(2, "经度", "必填")]
    same = ["LX-5001", "", "", "", "", "", "", "31.5623", "120.3089", "", "", "", "", ""]
    assert upload(logged_in, csv_bytes([same]), "x.csv", city[LX]).context["unchanged"][0].lot.pk == lot.pk


def test_history_says_who_imported_and_from_which_file(logged_in, city, officer):
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名")
    confirm(logged_in, upload(logged_in, csv_bytes(good_rows()), "梁溪底册2026.csv", city[LX]))
    record = lot.history.first()
    assert (record.history_type, record.history_user, record.history_change_reason) == (
        "~", officer, "底册导入：梁溪底册2026.csv")
    created = ParkingLot.objects.get(code="LX-5002").history.get()
    assert (created.history_user, created.history_change_reason) == (officer, "底册导入：梁溪底册2026.csv")


# -- confirming what was previewed ---------------------------------------------------------------
def test_a_lot_changed_since_the_preview_is_previewed_again_not_overwritten(logged_in, city, officer):
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名", total_berths=500, free_berths=500)
    preview = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    first_token = pending(logged_in)["token"]
    lot.name, lot.total_berths = "同事刚改的名字", 550
    lot_save(lot=lot, actor=officer)
    response = confirm(logged_in, preview)
    assert response.status_code == 200
    assert "预览之后数据已有变化" in response.context["stale"]
    lot.refresh_from_db()
    assert (lot.name, lot.total_berths) == ("同事刚改的名字", 550)
    assert not ParkingLot.objects.filter(code="LX-5002").exists()
    (update,) = response.context["updates"]  # the new preview shows the lot as it is now
    assert ("名称", "同事刚改的名字", "南禅寺地下停车场") in [(c.label, c.before, c.after) for c in update.changes]
    assert pending(logged_in)["token"] != first_token
    assert confirm(logged_in, response).status_code == 302
    lot.refresh_from_db()
    assert (lot.name, lot.total_berths) == ("南禅寺地下停车场", 300)


def test_a_tariff_key_that_names_another_tariff_since_the_preview_is_stale(logged_in, city):
    first = TariffFactory(key="lx-core", region=city[LX])
    preview = upload(logged_in, csv_bytes(good_rows(tariff_key="lx-core")), "x.csv", city[LX])
    first.key = None
    first.save()
    second = TariffFactory(key="lx-core", region=city[LX])
    response = confirm(logged_in, preview)
    assert response.status_code == 200 and response.context["stale"]
    assert not ParkingLot.objects.exists()
    assert confirm(logged_in, response).status_code == 302
    assert ParkingLot.objects.get(code="LX-5001").tariff == second


def test_only_the_latest_preview_can_be_confirmed(logged_in, city):
    older = upload(logged_in, csv_bytes(good_rows()[:1]), "a.csv", city[LX])
    newer = upload(logged_in, csv_bytes(good_rows()[1:]), "b.csv", city[LX])  # another tab
    refused = confirm(logged_in, older)
    assert refused.status_code == 302 and refused.url == reverse(IMPORT_URL)
    assert any("该预览已失效" in str(m) for m in refused.wsgi_request._messages)
    assert not ParkingLot.objects.exists()
    assert confirm(logged_in, newer).status_code == 302
    assert list(ParkingLot.objects.values_list("code", flat=True)) == ["LX-5002"]


def test_a_forged_digest_or_token_writes_nothing(logged_in, city):
    preview = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    assert confirm(logged_in, preview, digest="0" * 64).status_code == 302
    assert confirm(logged_in, preview, token="guessed").status_code == 302
    assert not ParkingLot.objects.exists()
    assert confirm(logged_in, preview).status_code == 302  # the genuine pair still works once
    assert ParkingLot.objects.count() == 2
    assert confirm(logged_in, preview).status_code == 302 and ParkingLot.objects.count() == 2  # not twice


def test_cancel_forgets_the_preview(logged_in, city):
    preview = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    response = confirm(logged_in, preview, cancel="1", confirm="")
    assert response.status_code == 302 and PENDING_KEY not in logged_in.session
    assert confirm(logged_in, preview).status_code == 302
    assert not ParkingLot.objects.exists()


def test_the_rows_wait_on_the_server_not_in_the_page(logged_in, city):
    preview = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    stored = pending(logged_in)
    assert [number for number, _values in stored["rows"]] == [2, 3]
    assert stored["rows"][0][1]["name"] == "南禅寺地下停车场"
    # The confirming form carries the token and the digest, never the rows.
    assert 'name="token"' in preview.text and 'name="digest"' in preview.text and 'name="file"' not in preview.text


def test_a_row_that_fails_at_confirm_saves_no_row(logged_in, city):
    preview = upload(logged_in, csv_bytes(good_rows()), "x.csv", city[LX])
    LotFactory(code="LX-5002", region=city[BH])  # registered in 滨湖 meanwhile
    response = confirm(logged_in, preview)
    assert response.status_code == 200
    assert [(r, c) for r, c, _m in report_errors(response)] == [(3, "编码")]
    assert list(ParkingLot.objects.values_list("code", flat=True)) == ["LX-5002"]
    assert PENDING_KEY not in logged_in.session


def test_the_service_refuses_a_digest_that_is_not_the_plans(city, officer):
    rows = inventory.read_inventory(csv_bytes(good_rows()))
    plan = inventory.plan_import(rows, region=city[LX], actor=officer)
    with pytest.raises(ImportStale) as excinfo:
        lots_import(actor=officer, region=city[LX], rows=rows, digest="not-the-plan")
    assert (excinfo.value.code, excinfo.value.status) == ("import_stale", 409)
    assert not ParkingLot.objects.exists()
    report = lots_import(actor=officer, region=city[LX], rows=rows, digest=plan.digest)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)


def test_the_digest_follows_what_would_be_written(city):
    rows = inventory.read_inventory(csv_bytes(good_rows()))
    first = inventory.plan_import(rows, region=city[LX]).digest
    assert inventory.plan_import(rows, region=city[LX]).digest == first
    lot = LotFactory(code="LX-5001", region=city[LX])
    with_lot = inventory.plan_import(rows, region=city[LX]).digest
    assert with_lot != first
    ParkingLot.objects.filter(pk=lot.pk).update(address="别处")  # a field the file also sets
    assert inventory.plan_import(rows, region=city[LX]).digest != with_lot
    ParkingLot.objects.filter(pk=lot.pk).update(free_berths=3)  # live state is not the import's
    moved_count = inventory.plan_import(rows, region=city[LX]).digest
    ParkingLot.objects.filter(pk=lot.pk).update(free_berths=4)
    assert inventory.plan_import(rows, region=city[LX]).digest == moved_count


def test_the_preview_is_translated(logged_in, city):
    LotFactory(code="LX-5001", region=city[LX], name="旧名")
    response = logged_in.post(reverse(IMPORT_URL), {"region": city[LX].pk,
                                                    "file": SimpleUploadedFile("x.csv", csv_bytes(good_rows()))},
                              HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "Confirm import" in page and "Name" in page and "确认导入" not in page



def test_the_templates_chinese_labels_are_read_when_the_admin_is_in_english(logged_in, city):
    response = logged_in.post(reverse(IMPORT_URL), {"region": city[LX].pk,
                                                    "file": SimpleUploadedFile("x.csv", csv_bytes(good_rows()))},
                              HTTP_ACCEPT_LANGUAGE="en")
    assert report_errors(response) == []
    kinds = [(item.lot.kind, item.lot.road_class) for item in response.context["creates"]]
    assert kinds == [("off_street", ""), ("on_street", "arterial")]
