"""The lot registry's services: bad input named by field, nothing half-saved, scope enforced."""

from __future__ import annotations

import copy

import pytest

from apps.common.geo import gcj02_to_wgs84
from apps.lots.credentials import decrypt_secret
from apps.lots.errors import InvalidTariff, LotError, OutOfScope
from apps.lots.models import Device, ParkingLot, Tariff
from apps.lots.services import (
    device_change,
    device_issue,
    device_revoke,
    device_rotate_secret,
    lot_save,
    tariff_save,
)
from tests.factories import CORE_ARTERIAL_RULES, DeviceFactory, LotFactory, TariffFactory

pytestmark = pytest.mark.django_db

LX, BH = "320213", "320211"


def new_lot(city, **fields) -> ParkingLot:
    values = {"code": "LX-0001", "name": "测试", "region": city[LX], "lat": 31.57, "lon": 120.30,
              "total_berths": 50}
    values.update(fields)
    return ParkingLot(**values)


def test_lot_outside_wuxi_names_lat_and_saves_nothing(city):
    with pytest.raises(LotError) as excinfo:
        lot_save(lot=new_lot(city, lat=39.9, lon=116.4))
    assert excinfo.value.field == "lat" and excinfo.value.code == "invalid_lot"
    assert not ParkingLot.objects.exists()


def test_duplicate_lot_code_names_code(city):
    LotFactory(code="LX-0001", region=city[BH])
    with pytest.raises(LotError) as excinfo:
        lot_save(lot=new_lot(city, code="lx-0001"))
    assert excinfo.value.field == "code"
    assert ParkingLot.objects.count() == 1


def test_gcj02_coordinates_converted_once(city):
    lot = lot_save(lot=new_lot(city, source_coord_system="gcj02"), coords_in_source_system=True)
    assert (lot.lat, lot.lon) == pytest.approx(gcj02_to_wgs84(31.57, 120.30), abs=1e-12)
    lot.name = "改名"
    lot_save(lot=lot)
    lot.refresh_from_db()
    assert (lot.lat, lot.lon) == pytest.approx(gcj02_to_wgs84(31.57, 120.30), abs=1e-12)


def test_lot_save_scope(city, staff_factory):
    officer = staff_factory("region", LX)
    with pytest.raises(OutOfScope):
        lot_save(lot=new_lot(city, region=city[BH]), actor=officer)
    lot = lot_save(lot=new_lot(city), actor=officer)
    foreign = LotFactory(code="BH-0001", region=city[BH])
    foreign.name = "改"
    with pytest.raises(OutOfScope):
        lot_save(lot=foreign, actor=officer)
    lot.region = city[BH]  # moving one's own lot out of scope
    with pytest.raises(OutOfScope):
        lot_save(lot=lot, actor=officer)
    assert ParkingLot.objects.get(pk=lot.pk).region == city[LX]


def test_invalid_tariff_names_the_rule_path(city):
    rules = copy.deepcopy(CORE_ARTERIAL_RULES)
    rules["small"]["bands"][1]["ladder"][0]["after_minutes"] = -1
    with pytest.raises(InvalidTariff) as excinfo:
        tariff_save(tariff=Tariff(name="坏", rules=rules))
    assert excinfo.value.field == "rules.small.bands[1].ladder[0].after_minutes"
    assert not Tariff.objects.exists()


def test_tariff_scope(city, staff_factory):
    officer = staff_factory("region", LX)
    with pytest.raises(OutOfScope) as excinfo:
        tariff_save(tariff=Tariff(name="全市", rules=CORE_ARTERIAL_RULES), actor=officer)
    assert excinfo.value.field == "region"
    assert tariff_save(tariff=Tariff(name="本区", rules=CORE_ARTERIAL_RULES, region=city[LX]), actor=officer).pk


def test_device_issue_rotate_revoke(city):
    lot = LotFactory(code="LX-0002", region=city[LX])
    device, secret = device_issue(name="闸", lots=[lot])
    assert decrypt_secret(device.secret_encrypted) == secret
    revoked = device_revoke(device=device)
    assert revoked.revoked_at is not None
    assert device_revoke(device=device).revoked_at == revoked.revoked_at  # idempotent
    new_secret = device_rotate_secret(device=device)
    device.refresh_from_db()
    assert new_secret != secret and decrypt_secret(device.secret_encrypted) == new_secret
    assert device.revoked_at is None


def test_device_issue_refuses_no_lots_and_foreign_lots(city, staff_factory):
    with pytest.raises(LotError) as excinfo:
        device_issue(name="x", lots=[])
    assert excinfo.value.field == "lots"
    officer = staff_factory("region", LX)
    with pytest.raises(OutOfScope):
        device_issue(name="x", lots=[LotFactory(code="BH-0002", region=city[BH])], actor=officer)
    assert not Device.objects.exists()


def test_device_change_refuses_devices_shared_with_lots_outside_the_actors_scope(city, staff_factory):
    own, own2 = LotFactory(code="LX-0003", region=city[LX]), LotFactory(code="LX-0004", region=city[LX])
    foreign = LotFactory(code="BH-0003", region=city[BH])
    shared, _secret = DeviceFactory.issue(lots=[own, foreign])
    officer = staff_factory("region", LX)
    with pytest.raises(OutOfScope):
        device_change(device=shared, name="新", kind=shared.kind, lots=[own2], actor=officer)
    assert set(shared.lots.all()) == {own, foreign}
    mine, _secret = DeviceFactory.issue(lots=[own])
    device_change(device=mine, name="新", kind=mine.kind, lots=[own2], actor=officer)
    assert set(mine.lots.all()) == {own2}
    assert mine.history.first().history_user == officer
    with pytest.raises(OutOfScope):
        device_change(device=mine, name="新", kind=mine.kind, lots=[foreign], actor=officer)


def test_device_change_refuses_no_lots_and_rolls_back(city):
    lot = LotFactory(code="LX-0005", region=city[LX])
    device, _secret = DeviceFactory.issue(lots=[lot])
    with pytest.raises(LotError):
        device_change(device=device, name="改名", kind=device.kind, lots=[])
    device.refresh_from_db()
    assert device.name != "改名" and list(device.lots.all()) == [lot]


def test_city_admin_may_drop_any_lot(city, staff_factory):
    own, foreign = LotFactory(code="LX-0006", region=city[LX]), LotFactory(code="BH-0006", region=city[BH])
    device, _secret = DeviceFactory.issue(lots=[own, foreign])
    device_change(device=device, name="d", kind=device.kind, lots=[own], actor=staff_factory("city"))
    assert list(device.lots.all()) == [own]


def test_tariff_factory_rules_are_valid(city):
    assert tariff_save(tariff=TariffFactory.build()).pk


def test_device_rotate_and_revoke_refuse_devices_outside_the_actors_scope(city, staff_factory):
    binhu_lot = LotFactory(code="BH-0001", region=city[BH])
    device, secret = device_issue(name="滨湖系统", lots=[binhu_lot])
    liangxi_officer = staff_factory("region", LX)
    with pytest.raises(OutOfScope):
        device_revoke(device=device, actor=liangxi_officer)
    with pytest.raises(OutOfScope):
        device_rotate_secret(device=device, actor=liangxi_officer)
    device.refresh_from_db()
    assert device.revoked_at is None
    assert decrypt_secret(device.secret_encrypted) == secret
    binhu_officer = staff_factory("region", BH)
    assert device_revoke(device=device, actor=binhu_officer).revoked_at is not None


def test_a_registry_edit_never_writes_back_a_stale_live_count_or_offline_mark(city):
    """Issue 3: counts never drift. An admin form or an import holds a lot read minutes ago; the
    ingest path has moved the count and the watcher has marked the lot offline since."""
    from django.utils import timezone

    lot = LotFactory(code="LX-0100", region=city[LX], total_berths=10, free_berths=9)
    stale = ParkingLot.objects.get(pk=lot.pk)
    offline_since = timezone.now()
    ParkingLot.objects.filter(pk=lot.pk).update(free_berths=8, offline_since=offline_since)

    stale.name = "改名后的停车场"
    lot_save(lot=stale)

    lot.refresh_from_db()
    assert lot.name == "改名后的停车场"
    assert lot.free_berths == 8
    assert lot.offline_since == offline_since


def test_shrinking_a_lot_clamps_its_live_count_to_the_new_total(city):
    lot = LotFactory(code="LX-0101", region=city[LX], total_berths=10, free_berths=9)
    stale = ParkingLot.objects.get(pk=lot.pk)
    stale.total_berths = 5
    lot_save(lot=stale)
    lot.refresh_from_db()
    assert (lot.total_berths, lot.free_berths) == (5, 5)
