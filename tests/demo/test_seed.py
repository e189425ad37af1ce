"""manage.py seed_demo: a deterministic demo city on Wuxi's built-up land, never in its lakes."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import override_settings

from apps.berths.models import Berth
from apps.common.errors import DomainError
from apps.common.geo import distance_m, in_wuxi
from apps.demo.operators import OPERATORS, organisation_code
from apps.demo.places import CLUSTERS, LAKE_TAI, LANDMARKS, LI_LAKE, REGIONS, in_polygon, in_water
from apps.demo.plan import DEMO_CLOCK, plan_city
from apps.demo.seed import DEMO_PASSWORD, TARIFF_FIXTURE
from apps.lots import fees
from apps.lots.models import FreeWindow, ParkingLot, Tariff
from apps.regions.models import Operator, Region, StaffScope
from apps.regions.services import WUXI_REGIONS
from apps.regions.validators import validate_credit_code

LOT_CODE = re.compile(r"^[A-Z0-9-]{1,32}$")


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def city_digest() -> str:
    """Everything a seed decides about lots and berths (not ids, not timestamps)."""
    lots = ParkingLot.objects.select_related("region", "operator", "tariff").order_by("code")
    rows = [
        (lot.code, lot.name, lot.address, lot.region.code, lot.operator.credit_code, lot.kind, lot.category,
         lot.zone_class, lot.road_class, lot.lat, lot.lon, lot.total_berths, lot.ev_berths, lot.accessible_berths,
         lot.reservable_berths, lot.free_berths, lot.opening_hours, lot.tariff.key, lot.allow_pay_later,
         lot.filing_status, lot.compliance_level, lot.status)
        for lot in lots
    ]
    rows += list(Berth.objects.order_by("lot__code", "code").values_list(
        "lot__code", "code", "kind", "floor", "sensor_id", "state"))
    return hashlib.sha256(repr(rows).encode()).hexdigest()


class _Rollback(Exception):
    pass


def digest_of_fresh_seed(*args: str) -> str:
    """Seed an empty database, digest it, and roll it all back, leaving the database empty again."""
    assert not ParkingLot.objects.exists()
    digest = ""
    try:
        with transaction.atomic():
            seed(*args)
            digest = city_digest()
            raise _Rollback
    except _Rollback:
        pass
    assert not ParkingLot.objects.exists()
    return digest


def on_built_up_land(lot: ParkingLot) -> bool:
    """Inside one of its region's built-up clusters, or on one of the hand-placed landmarks."""
    if any((lm.lat, lm.lon) == (lot.lat, lot.lon) for lm in LANDMARKS):
        return True
    return any(distance_m(lot.lat, lot.lon, c.lat, c.lon) <= c.radius_km * 1000 + 1
               for c in CLUSTERS if c.region == lot.region.code)


@pytest.mark.django_db
def test_default_city_has_hundreds_of_lots_on_wuxi_land_in_every_region():
    output = seed()

    lots = list(ParkingLot.objects.select_related("region", "tariff"))
    assert len(lots) == 400
    assert all(LOT_CODE.match(lot.code) for lot in lots)
    assert all(in_wuxi(lot.lat, lot.lon) for lot in lots)
    assert not [lot.code for lot in lots if in_polygon(lot.lat, lot.lon, LAKE_TAI)]
    assert not [lot.code for lot in lots if in_polygon(lot.lat, lot.lon, LI_LAKE)]
    assert not [lot.code for lot in lots if not on_built_up_land(lot)]
    per_region = Counter(lot.region.code for lot in lots)
    assert set(per_region) == set(REGIONS)
    assert per_region.most_common(1)[0][0] == "320213"  # 梁溪, the old centre, is the densest
    assert len({lot.name for lot in lots}) == len(lots)
    hospitals = [lot for lot in lots if lot.category == ParkingLot.Category.HOSPITAL]
    assert len(hospitals) >= 3
    assert {lot.tariff.key for lot in hospitals} == {"hospital_pilot"}
    assert all(lot.reservable_berths > 0 for lot in hospitals)
    assert Counter(lot.kind for lot in lots)[ParkingLot.Kind.ON_STREET] >= 40
    assert {lot.category for lot in lots} == set(ParkingLot.Category.values)
    assert "admin" in output and DEMO_PASSWORD in output and "400" in output


@pytest.mark.django_db
def test_lots_carry_the_tariff_of_their_kind_zone_and_road_and_every_tariff_is_valid():
    seed("--lots", "150", "--seed", "11")

    fixture_keys = {t.key for t in Tariff.objects.all()}
    assert fixture_keys >= {"hospital_pilot", "on_street_core_arterial", "off_street_mall_demo"}
    for tariff in Tariff.objects.all():
        fees.validate_rules(tariff.rules)
        assert tariff.source
    for lot in ParkingLot.objects.select_related("tariff"):
        if lot.kind == ParkingLot.Kind.ON_STREET:
            assert lot.zone_class and lot.road_class
            assert lot.tariff.key == f"on_street_{lot.zone_class}_{lot.road_class}"
        elif lot.category == ParkingLot.Category.HOSPITAL:
            assert lot.tariff.key == "hospital_pilot"
        else:
            assert lot.tariff.key.startswith("off_street_")
            assert not (lot.zone_class or lot.road_class)
    assert ParkingLot.objects.filter(kind="on_street", zone_class="core").exists()


@pytest.mark.django_db
def test_on_street_lots_have_their_berths_and_counts_add_up():
    seed("--lots", "150", "--seed", "5")

    on_street = ParkingLot.objects.filter(kind=ParkingLot.Kind.ON_STREET).prefetch_related("berths")
    assert on_street.exists()
    for lot in on_street:
        berths = list(lot.berths.all())
        kinds = Counter(b.kind for b in berths)
        states = Counter(b.state for b in berths)
        assert len(berths) == lot.total_berths
        assert [b.code for b in sorted(berths, key=lambda b: b.code)][:2] == ["001", "002"]
        assert kinds[Berth.Kind.EV] == lot.ev_berths and kinds[Berth.Kind.ACCESSIBLE] == lot.accessible_berths
        if lot.compliance_level in ("advanced", "standard"):  # berth-level sensors: the count is the vacant berths
            assert all(b.sensor_id for b in berths)
            assert states[Berth.State.VACANT] == lot.free_berths
        else:
            assert not any(b.sensor_id for b in berths)
    sensors = [s for s in Berth.objects.values_list("sensor_id", flat=True) if s]
    assert sensors and len(sensors) == len(set(sensors))
    assert not Berth.objects.filter(lot__kind=ParkingLot.Kind.OFF_STREET).exists()
    for lot in ParkingLot.objects.all():
        assert 0 <= lot.free_berths <= lot.total_berths
        assert max(lot.ev_berths, lot.accessible_berths, lot.reservable_berths) <= lot.total_berths
        assert lot.public_status in ("open", "full", "closed")  # seen just now: nothing offline
        assert lot.last_seen_at is not None and lot.occupancy_updated_at is not None


@pytest.mark.django_db
def test_operators_have_valid_credit_codes_and_settlement_accounts():
    seed("--lots", "60")

    operators = list(Operator.objects.all())
    assert len(operators) == len(OPERATORS)
    for operator in operators:
        validate_credit_code(operator.credit_code)
        operator.full_clean()
        assert operator.settlement_account_no and operator.settlement_bank
        assert organisation_code(operator.credit_code[8:16]) == operator.credit_code[8:17]  # GB 11714 too
    assert {o.ownership for o in operators} == set(Operator.Ownership.values)
    assert not ParkingLot.objects.filter(operator__isnull=True).exists()


@pytest.mark.django_db
def test_logins_get_their_scope_and_group_and_the_demo_password():
    get_user_model().objects.create_user("binhu", password="someone-elses")  # an account that predates the seed
    output = seed("--lots", "60")

    users = get_user_model().objects
    admin = users.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(DEMO_PASSWORD)
    assert admin.staff_scope.kind == StaffScope.Kind.CITY
    for code, meta in REGIONS.items():
        if meta.username == "binhu":
            continue
        user = users.get(username=meta.username)
        assert user.is_staff and not user.is_superuser and user.check_password(DEMO_PASSWORD)
        assert (user.staff_scope.kind, user.staff_scope.region.code) == (StaffScope.Kind.REGION, code)
        assert user.groups.filter(name="区域管理员").exists()
        visible = ParkingLot.objects.for_user(user)
        assert visible.exists() and not visible.exclude(region__code=code).exists()
    chengfa = users.get(username="chengfa")
    assert chengfa.staff_scope.kind == StaffScope.Kind.OPERATOR
    operator_ids = set(ParkingLot.objects.for_user(chengfa).values_list("operator", flat=True))
    assert operator_ids == {chengfa.staff_scope.operator_id}
    assert users.get(username="binhu").check_password("someone-elses")  # left alone, and said so
    assert "binhu" in output and "已存在" in output


@pytest.mark.django_db
def test_same_seed_gives_the_same_city_and_another_seed_another():
    first = digest_of_fresh_seed("--lots", "80", "--seed", "42")
    second = digest_of_fresh_seed("--lots", "80", "--seed", "42")
    other = digest_of_fresh_seed("--lots", "80", "--seed", "43")

    assert first == second
    assert other != first


@pytest.mark.django_db
def test_if_empty_leaves_a_seeded_city_alone_and_a_plain_rerun_refuses():
    seed("--lots", "40")
    before = city_digest(), Operator.objects.count(), FreeWindow.objects.count(), get_user_model().objects.count()

    output = seed("--if-empty", "--lots", "500")
    assert "跳过" in output
    with pytest.raises(CommandError, match="已有 40 个停车场"):
        seed("--lots", "40")

    after = city_digest(), Operator.objects.count(), FreeWindow.objects.count(), get_user_model().objects.count()
    assert after == before
    assert ParkingLot.objects.count() == 40


@pytest.mark.django_db
def test_seeds_regions_and_demo_labelled_free_windows():
    seed("--lots", "40")

    assert set(Region.objects.values_list("code", flat=True)) == {code for code, *_ in WUXI_REGIONS}
    windows = list(FreeWindow.objects.all())
    assert len(windows) >= 3 and all("演示" in w.name for w in windows)
    assert any(w.region is None and w.lot is None for w in windows)  # city-wide
    assert any(w.lot is not None for w in windows)


@pytest.mark.django_db
def test_a_broken_tariff_fixture_is_refused_and_nothing_is_saved(tmp_path):
    from apps.demo.seed import DemoCityError, demo_city_seed

    broken = tmp_path / "tariffs.json"
    broken.write_text(TARIFF_FIXTURE.read_text(encoding="utf-8").replace('"unit_minutes": 30', '"unit_minutes": 0', 1),
                      encoding="utf-8")
    with pytest.raises(DomainError) as excinfo:
        demo_city_seed(lots=40, seed=1, tariff_path=broken)
    assert excinfo.value.code == "invalid_tariff"
    with pytest.raises(DemoCityError):
        demo_city_seed(lots=40, seed=1, tariff_path=tmp_path / "missing.json")
    malformed = tmp_path / "malformed.json"
    malformed.write_text('[{"key": "no_rules"}]', encoding="utf-8")
    with pytest.raises(DemoCityError):
        demo_city_seed(lots=40, seed=1, tariff_path=malformed)
    assert not ParkingLot.objects.exists() and not Tariff.objects.exists() and not Operator.objects.exists()


def test_the_plan_is_deterministic_and_scales_to_5000_lots_on_land():
    big = plan_city(lots=5000, seed=2026)

    assert big == plan_city(lots=5000, seed=2026)
    assert len(big) == 5000 and len({p.code for p in big}) == 5000 and len({p.name for p in big}) == 5000
    assert not [p.code for p in big if in_water(p.lat, p.lon) or not in_wuxi(p.lat, p.lon)]
    assert all(len(p.code) <= 32 and LOT_CODE.match(p.code) for p in big)
    assert sum(len(p.berths) for p in big) < 60_000  # berth rows stay reasonable
    assert plan_city(lots=10, seed=1) != plan_city(lots=10, seed=2)
    assert {p.region for p in plan_city(lots=len(REGIONS), seed=3)} == set(REGIONS)


def test_occupancy_follows_the_fixed_demo_clock():
    """At the demo clock (a weekday mid-morning) hospitals and offices are fuller than malls."""
    assert DEMO_CLOCK.weekday() < 5 and 9 <= DEMO_CLOCK.hour <= 11
    plans = plan_city(lots=2000, seed=9)

    def share(category):
        chosen = [p for p in plans if p.category == category and p.status == "open"]
        return sum(p.total_berths - p.free_berths for p in chosen) / sum(p.total_berths for p in chosen)

    assert share("hospital") > 0.75
    assert share("office") > share("mall") + 0.3
    assert share("residential") < share("office")


def test_water_polygons_hold_the_lakes_and_not_the_city():
    for lake_point in ((31.233, 120.133), (31.40, 120.20), (31.50, 120.20), (31.43, 120.33), (31.53, 120.275)):
        assert in_water(*lake_point), lake_point
    for land_point in ((31.5745, 120.2985), (31.589, 120.304), (31.491, 120.312), (31.36, 119.82), (31.90, 120.28)):
        assert not in_water(*land_point), land_point
    assert not [lm.name for lm in LANDMARKS if in_water(lm.lat, lm.lon)]


@pytest.mark.django_db
def test_refuses_to_seed_under_production_settings():
    with override_settings(SETTINGS_MODULE="wuxi_parking.settings.production"), \
            pytest.raises(CommandError, match="生产环境"):
        seed("--lots", "40")
    assert not ParkingLot.objects.exists() and not get_user_model().objects.exists()
