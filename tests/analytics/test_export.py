"""The daily open-data export: NGSI-LD entities valid against FIWARE, the day's summaries as CSV, a manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime

import pytest
import time_machine
from django.core.management import call_command

from apps.analytics import export, tasks
from apps.analytics.models import LotDay
from apps.lots.fees import SHANGHAI
from apps.lots.models import ParkingLot
from tests.analytics.test_open_data import PLATE_LIKE, _assert_valid
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 17)


@pytest.fixture
def lots():
    off = LotFactory(code="LX-OFF1", name="=HYPERLINK(\"x\")", total_berths=200, free_berths=50)
    on = LotFactory(code="LX-ON1", kind=ParkingLot.Kind.ON_STREET, category=ParkingLot.Category.ROAD,
                    zone_class="core", road_class="arterial", total_berths=12, free_berths=3)
    SessionFactory(lot=off, plate="苏B12345", entry_at=datetime(2026, 3, 17, 9, tzinfo=SHANGHAI))
    LotDay.objects.create(lot=off, day=DAY, region=off.region, operator=off.operator, total_berths=200, entries=40,
                          exits=38, sessions_closed=38, occupied_avg=120.456, peak_ratio=0.95, hours_over_90=2,
                          online_minutes=1350, billed_fen=12000, paid_fen=9000, arrears_new_fen=3000)
    LotDay.objects.create(lot=on, day=DAY, region=on.region, operator=on.operator, total_berths=12, entries=80,
                          exits=80, sessions_closed=80, online_minutes=1440)
    LotDay.objects.create(lot=on, day=date(2026, 3, 16), region=on.region, total_berths=12, entries=1)
    return off, on


def test_the_day_folder_has_valid_entities_the_summaries_and_a_true_manifest(lots, tmp_path):
    folder = export.open_data_export(day=DAY, root=tmp_path)
    assert folder == tmp_path / "2026-03-17"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-03-17"]  # no staging folder left behind
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["day"] == "2026-03-17"
    assert {f["name"] for f in manifest["files"]} == {"OffStreetParking.json", "OnStreetParking.json",
                                                      "lot-days.csv"}
    for entry in manifest["files"]:
        body = (folder / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest() and entry["bytes"] == len(body)
        assert not PLATE_LIKE.search(body.decode("utf-8"))
    for entity_type, code in (("OffStreetParking", "LX-OFF1"), ("OnStreetParking", "LX-ON1")):
        entities = json.loads((folder / f"{entity_type}.json").read_text(encoding="utf-8"))
        assert [e["id"] for e in entities] == [f"urn:ngsi-ld:{entity_type}:{code}"]
        assert all("@context" in e for e in entities)
        _assert_valid(entities, entity_type)
    text = (folder / "lot-days.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["lot_code"] for r in rows] == ["LX-OFF1", "LX-ON1"]  # that day only
    assert list(rows[0]) == export.LOT_DAY_COLUMNS
    assert rows[0]["lot_name"].startswith("'=")  # never a formula in a spreadsheet
    assert (rows[0]["entries"], rows[0]["occupied_avg"], rows[0]["turnover"], rows[0]["paid_fen"]) == (
        "40", "120.46", "0.19", "9000")
    assert rows[1]["turnover"] == str(round(80 / 12, 4))
    assert not {"plate", "arrears_new_fen", "session_id"} & set(rows[0])


def test_a_rerun_replaces_the_folder_whole(lots, tmp_path):
    first = export.open_data_export(day=DAY, root=tmp_path)
    (first / "stray.txt").write_text("left from before")
    LotDay.objects.filter(lot=lots[0], day=DAY).update(entries=41)
    again = export.open_data_export(day=DAY, root=tmp_path)
    assert again == first and not (again / "stray.txt").exists()
    assert ",41," in (again / "lot-days.csv").read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-03-17"]


def test_the_command_and_the_daily_task(lots, tmp_path, settings):
    out = io.StringIO()
    call_command("export_open_data", "--day", "2026-03-17", "--dir", str(tmp_path), stdout=out)
    assert (tmp_path / "2026-03-17" / "manifest.json").exists() and "2026-03-17" in out.getvalue()
    settings.ANALYTICS_EXPORT_DIR = tmp_path / "daily"
    with time_machine.travel(datetime(2026, 3, 18, 1, 0, tzinfo=SHANGHAI), tick=False):
        written = tasks.export_open_data()
        manifest = tmp_path / "daily" / "2026-03-17" / "manifest.json"
        assert written == str(manifest.parent) and manifest.exists()
        before = manifest.read_bytes()
        assert tasks.export_open_data().endswith("exists")  # once a day: the folder is left alone
        assert manifest.read_bytes() == before
