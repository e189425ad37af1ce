"""A priced session records which tariff version priced it (issue 6, item 18): "which rules charged
me" has an answer that later edits of the tariff cannot change."""

from __future__ import annotations

import copy
import importlib
from datetime import datetime

import pytest
from django.urls import reverse

from apps.lots import fees
from apps.lots.fees import SHANGHAI
from apps.lots.models import Tariff, TariffVersion, rules_digest
from apps.sessions.models import ParkingSession
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory, TariffFactory
from tests.factories_sessions import entry_event, exit_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def _dearer(rules: dict) -> dict:
    rules = copy.deepcopy(rules)
    for band in rules["small"]["bands"]:
        for step in band["ladder"]:
            step["unit_fen"] *= 2
    return rules


def test_saving_a_tariff_records_its_first_version():
    tariff = TariffFactory()
    version = tariff.version
    assert (version.tariff_id, version.number, version.rules) == (tariff.pk, 1, tariff.rules)
    assert version.digest == rules_digest(tariff.rules)
    assert Tariff.objects.get(pk=tariff.pk).version_id == version.pk


def test_changing_the_rules_records_a_new_version_and_keeps_the_old_one():
    tariff = TariffFactory()
    first = tariff.version
    tariff.name = "新名称"
    tariff.save()
    assert TariffVersion.objects.filter(tariff=tariff).count() == 1  # the rules did not change
    old_rules = copy.deepcopy(tariff.rules)
    tariff.rules = _dearer(tariff.rules)
    tariff.save()
    second = Tariff.objects.get(pk=tariff.pk).version
    assert second.number == 2 and second.rules == tariff.rules
    first.refresh_from_db()
    assert first.rules == old_rules  # never rewritten
    tariff.rules = old_rules  # back to the first rules: they are that version again
    tariff.save()
    assert Tariff.objects.get(pk=tariff.pk).version_id == first.pk
    assert TariffVersion.objects.filter(tariff=tariff).count() == 2


def test_a_priced_exit_records_the_version_and_a_later_edit_does_not_change_it():
    tariff = TariffFactory()
    lot = LotFactory(tariff=tariff, total_berths=100, free_berths=50)
    device = DeviceFactory.issue(lots=[lot])[0]
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    body = events_record(device=device, events=[exit_event(lot, "苏B12345", at=at(11, 30))], now=NOW).as_dict()
    first = tariff.version
    session = ParkingSession.objects.get()
    assert (session.tariff_id, session.tariff_version_id) == (tariff.pk, first.pk)

    tariff.rules = _dearer(tariff.rules)
    tariff.save()
    session.refresh_from_db()
    assert session.tariff_version_id == first.pk
    # What an auditor does: the recorded rules, the engine, the stay, give the amount charged.
    reproduced = fees.compute_fee(session.tariff_version.rules, vehicle_class=session.vehicle_class,
                                  entry=session.entry_at, exit=session.exit_at, new_energy=session.new_energy)
    assert reproduced == session.amount_fen == body["results"][0]["session"]["amount_fen"] == 1000
    assert rules_digest(session.tariff_version.rules) == session.tariff_version.digest

    events_record(device=device, events=[entry_event(lot, "苏B54321", at=at(10))], now=NOW)
    events_record(device=device, events=[exit_event(lot, "苏B54321", at=at(11, 30))], now=NOW)
    later = ParkingSession.objects.get(plate="苏B54321")
    assert (later.tariff_version.number, later.amount_fen) == (2, 2000)


def test_rules_changed_past_save_are_recorded_before_they_price_a_stay():
    tariff = TariffFactory()
    lot = LotFactory(tariff=tariff)
    device = DeviceFactory.issue(lots=[lot])[0]
    Tariff.objects.filter(pk=tariff.pk).update(rules=_dearer(tariff.rules))  # a bulk edit skips save()
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    events_record(device=device, events=[exit_event(lot, "苏B12345", at=at(11, 30))], now=NOW)
    session = ParkingSession.objects.get()
    assert session.amount_fen == 2000
    assert session.tariff_version.number == 2
    assert session.tariff_version.rules == Tariff.objects.get(pk=tariff.pk).rules


def test_a_stay_in_a_lot_without_a_tariff_records_none():
    lot = LotFactory(tariff=None)
    device = DeviceFactory.issue(lots=[lot])[0]
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    events_record(device=device, events=[exit_event(lot, "苏B12345", at=at(11, 30))], now=NOW)
    assert ParkingSession.objects.values_list("tariff", "tariff_version").get() == (None, None)


def test_the_session_admin_shows_the_version_and_its_rules(client, staff_factory, city):
    tariff = TariffFactory()
    lot = LotFactory(tariff=tariff, region=city["320213"])
    device = DeviceFactory.issue(lots=[lot])[0]
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    events_record(device=device, events=[exit_event(lot, "苏B12345", at=at(11, 30))], now=NOW)
    client.force_login(staff_factory("region", "320213"))
    session = ParkingSession.objects.get()
    page = client.get(reverse("admin:parking_sessions_parkingsession_change", args=[session.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "计费标准版本" in text and tariff.version.digest in text
    assert "&quot;unit_fen&quot;: 500" in text or '"unit_fen": 500' in text


def test_region_staff_see_a_sessions_ledger(client, staff_factory, city):
    from apps.sessions.services import session_apply_payment

    lot = LotFactory(region=city["320213"])
    device = DeviceFactory.issue(lots=[lot])[0]
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=at(10))], now=NOW)
    events_record(device=device, events=[exit_event(lot, "苏B12345", at=at(11, 30))], now=NOW)
    session = ParkingSession.objects.get()
    session_apply_payment(session_id=session.pk, amount_fen=600, reason="wechat", reference="ORDER-77")
    client.force_login(staff_factory("region", "320213"))
    page = client.get(reverse("admin:parking_sessions_parkingsession_change", args=[session.pk]))
    assert page.status_code == 200
    assert "ORDER-77" in page.content.decode()


def test_the_migration_gives_existing_tariffs_their_first_version():
    from django.apps import apps

    tariff = TariffFactory()
    Tariff.objects.filter(pk=tariff.pk).update(version=None)
    TariffVersion.objects.all().delete()
    migration = importlib.import_module("apps.lots.migrations.0004_tariff_version")
    migration.record_first_versions(apps, None)
    version = Tariff.objects.get(pk=tariff.pk).version
    assert (version.number, version.rules, version.digest) == (1, tariff.rules, rules_digest(tariff.rules))
