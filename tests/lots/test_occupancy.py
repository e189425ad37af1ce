"""The lot rows' live columns are written by apps.lots.occupancy (issue 6, item 17): the registry
apps import no sessions, and a device's heartbeat never makes its batches wait for each other."""

from __future__ import annotations

import ast
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction

from apps.lots.fees import SHANGHAI
from apps.lots.models import Device
from apps.lots.occupancy import device_heard
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event

APPS = Path(__file__).resolve().parents[2] / "apps"
NOW = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)
# What the registry must never import (the import-linter contract says the same for CI).
HIGHER = ("apps.sessions", "apps.payments", "apps.reservations", "apps.complaints", "apps.wechat")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("app", ["regions", "lots", "berths"])
def test_registry_apps_import_nothing_above_them(app):
    offending = {}
    for path in (APPS / app).rglob("*.py"):
        if app == "lots" and "demo" in path.relative_to(APPS / app).parts:
            continue  # moving to apps/demo, which may import anything
        bad = {name for name in _imports(path) if name.startswith(HIGHER)}
        if bad:
            offending[str(path.relative_to(APPS))] = sorted(bad)
    assert offending == {}


@pytest.mark.django_db
def test_a_heartbeat_never_moves_the_device_time_back():
    device = DeviceFactory.issue(lots=[LotFactory()])[0]
    device_heard(device_id=device.pk, now=NOW)
    device_heard(device_id=device.pk, now=NOW - timedelta(seconds=5))  # a batch that started earlier
    assert Device.objects.get(pk=device.pk).last_seen_at == NOW


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_of_one_key_for_different_lots_do_not_wait_for_each_other():
    """One lot system posting on several connections uses one key: the device row's heartbeat must
    not hold every batch until the one before it commits."""
    first_lot, second_lot = LotFactory(tariff=None), LotFactory(tariff=None)
    device = DeviceFactory.issue(lots=[first_lot, second_lot])[0]
    holding, done = threading.Event(), threading.Event()
    errors = []

    def slow_batch():
        try:
            with transaction.atomic():
                events_record(device=device, events=[entry_event(first_lot, "苏B12345", at=NOW)], now=NOW)
                holding.set()
                done.wait(10)  # still open: its locks are held until the other batch is done
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_batch)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        body = events_record(device=device, events=[entry_event(second_lot, "苏B54321", at=NOW)],
                             now=NOW + timedelta(seconds=1)).as_dict()
        took = time.monotonic() - started
    finally:
        done.set()
        thread.join(20)
    assert not errors
    assert body["accepted"] == 1
    assert took < 5, f"the second batch waited {took:.1f} s for the first"
    assert Device.objects.get(pk=device.pk).last_seen_at is not None
