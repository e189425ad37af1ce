"""Confirming an import on PostgreSQL with real threads: a lot edited meanwhile is never overwritten
by a stale preview, and a preview confirmed twice at once is written once."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from apps.lots import inventory
from apps.lots.errors import ImportStale
from apps.lots.models import ParkingLot
from apps.lots.services import lots_import
from tests.factories import LotFactory
from tests.lots.test_import import csv_bytes, good_rows
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LX = "320213"


def _outcome(job):
    def run():
        try:
            return job()
        except ImportStale:
            return "stale"
    return run


def test_an_edit_committed_while_the_import_waits_for_the_lot_is_not_overwritten(city, officer):
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名", total_berths=500, free_berths=500)
    rows = inventory.read_inventory(csv_bytes(good_rows()))
    digest = inventory.plan_import(rows, region=city[LX], actor=officer).digest
    locked, results = threading.Event(), {}

    def colleague_edits():
        with transaction.atomic():
            row = ParkingLot.objects.select_for_update().get(pk=lot.pk)
            locked.set()
            time.sleep(1.0)  # the import is now waiting for this row
            row.name = "同事改的"
            row.save(update_fields=["name"])
        return "edited"

    def staff_confirms():
        locked.wait(10)
        started = time.monotonic()
        try:
            lots_import(actor=officer, region=city[LX], rows=rows, digest=digest)
            results["import"] = "written"
        except ImportStale:
            results["import"] = "stale"
        results["waited"] = time.monotonic() - started
        return results["import"]

    assert run_together([colleague_edits, staff_confirms]) == ["edited", "stale"]
    assert results["waited"] > 0.5  # it did wait for the row lock, then saw the edit
    assert ParkingLot.objects.get(pk=lot.pk).name == "同事改的"
    assert not ParkingLot.objects.filter(code="LX-5002").exists()


def test_one_preview_confirmed_twice_at_once_is_written_once(city, officer):
    lot = LotFactory(code="LX-5001", region=city[LX], name="旧名")
    rows = inventory.read_inventory(csv_bytes(good_rows()))
    digest = inventory.plan_import(rows, region=city[LX], actor=officer).digest

    def confirm():
        report = lots_import(actor=officer, region=city[LX], rows=rows, digest=digest)
        return "written" if report.ok else "refused"

    outcomes = run_together([_outcome(confirm), _outcome(confirm)])
    assert sorted(outcomes) in (["refused", "written"], ["stale", "written"])
    assert sorted(ParkingLot.objects.values_list("code", flat=True)) == ["LX-5001", "LX-5002"]
    assert ParkingLot.objects.get(pk=lot.pk).history.filter(history_type="~").count() == 1
    assert connection.vendor == "postgresql"
