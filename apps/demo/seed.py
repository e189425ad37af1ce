"""Writing the demo city: divisions, tariffs, operators, lots, berths, free windows and staff logins."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history

from apps.berths.models import Berth
from apps.common.errors import DomainError
from apps.lots.fees import SHANGHAI
from apps.lots.models import FreeWindow, ParkingLot, Tariff
from apps.lots.services import tariff_save
from apps.regions.models import Operator, Region, StaffScope
from apps.regions.services import regions_load_wuxi, staff_grant_default_permissions

from .bookings import bookings_seed
from .hotline import demo_tickets_seed
from .operators import OPERATORS
from .places import REGIONS
from .plan import LotPlan, plan_city

__all__ = [
    "DEMO_PASSWORD",
    "TARIFF_FIXTURE",
    "DemoCity",
    "DemoCityError",
    "DemoLogin",
    "demo_city_seed",
    "tariffs_load",
]

# Demo only: printed by seed_demo and written in the README. Never seed a production database.
DEMO_PASSWORD: Final = "wuxi-demo-2026"  # noqa: S105 — public on purpose
TARIFF_FIXTURE: Final = Path(settings.BASE_DIR) / "fixtures" / "tariffs" / "wuxi.json"
_CHANGE_REASON: Final = "seed_demo 演示数据"
_BATCH: Final = 1000

# Off-street lots by category; the fixture has no demo tariff of their own for offices, stations
# and public lots, so they take the commercial one.
_OFF_STREET_TARIFF: Final = {
    "mall": "off_street_mall_demo", "office": "off_street_mall_demo", "transport": "off_street_mall_demo",
    "public": "off_street_mall_demo", "residential": "off_street_residential_demo",
    "scenic": "off_street_scenic_demo",
}


class DemoCityError(DomainError):
    code = "demo_city_refused"
    status = 409


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    scope: str
    password: str | None  # None: the account existed already and was left alone


@dataclass(slots=True)
class DemoCity:
    skipped: bool = False
    existing_lots: int = 0
    lots: int = 0
    on_street_lots: int = 0
    berths: int = 0
    hospitals: int = 0
    operators: int = 0
    tariffs: int = 0
    free_windows: int = 0
    tickets: int = 0
    logins: list[DemoLogin] = field(default_factory=list)
    bookings: dict[str, int] = field(default_factory=dict)  # booking sites, slots, bookings, sharing offers


def tariffs_load(path: Path = TARIFF_FIXTURE) -> tuple[dict[str, Tariff], list[dict[str, Any]]]:
    """Create or update every tariff in the fixture by its ``key``; each is validated by the engine."""
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoCityError(_("无法读取收费标准文件 %(path)s：%(error)s") % {"path": path, "error": exc},
                            code="demo_tariffs_missing")
    tariffs = {}
    for entry in entries:
        if not isinstance(entry, dict) or not {"key", "name", "rules"} <= entry.keys():
            raise DemoCityError(_("收费标准文件的每一项都须有 key、name 和 rules：%(entry).80s") % {"entry": entry},
                                code="demo_tariffs_missing")
        tariff = Tariff.objects.filter(key=entry["key"]).first() or Tariff(key=entry["key"])
        tariff.name, tariff.rules = entry["name"], entry["rules"]
        tariff.source = entry.get("source") or ""
        tariff.is_demo = bool(entry.get("is_demo", False))
        tariffs[entry["key"]] = tariff_save(tariff=tariff)
    return tariffs, entries


def _tariff_picker(entries: list[dict[str, Any]]):
    """The fixture's tariff for a lot: on-street by zone and road class, the pilot-hospital tariff for
    hospitals, the demo off-street ones by category."""
    on_street = {(e.get("zone_class"), e.get("road_class")): e["key"] for e in entries if e.get("kind") == "on_street"}
    hospital = [e["key"] for e in entries if e.get("kind") == "hospital"]
    off_street = [e["key"] for e in entries if e.get("kind") == "off_street"]
    wanted = [(z, r) for z in ParkingLot.ZoneClass.values for r in ParkingLot.RoadClass.values]
    missing = [f"on_street {z}/{r}" for z, r in wanted if (z, r) not in on_street]
    missing += [] if hospital else ["hospital"]
    missing += [] if off_street else ["off_street"]
    if missing:
        raise DemoCityError(_("收费标准文件缺少：%(missing)s") % {"missing": ", ".join(missing)},
                            code="demo_tariffs_missing")

    def pick(plan: LotPlan) -> str:
        if plan.kind == ParkingLot.Kind.ON_STREET:
            return on_street[(plan.zone_class, plan.road_class)]
        if plan.category == ParkingLot.Category.HOSPITAL:
            return hospital[0]
        key = _OFF_STREET_TARIFF.get(plan.category)
        return key if key in off_street else off_street[0]

    return pick


def _operators_ensure(regions: dict[str, Region]) -> tuple[dict[str, Operator], int]:
    operators, created = {}, 0
    for spec in OPERATORS:
        operator = Operator.objects.filter(credit_code=spec.credit_code).first()
        if operator is None:
            operator = Operator(
                name=spec.name, credit_code=spec.credit_code, ownership=spec.ownership, region=regions[spec.region],
                contact_name=spec.contact_name, contact_phone=spec.contact_phone, settlement_bank=spec.bank,
                settlement_account_name=spec.name, settlement_account_no=spec.account_no,
            )
            operator.full_clean()
            operator._change_reason = _CHANGE_REASON
            operator.save()
            created += 1
        operators[spec.key] = operator
    return operators, created


def _lot(plan: LotPlan, *, regions, operators, tariffs, pick_tariff, now: datetime) -> ParkingLot:
    lot = ParkingLot(
        code=plan.code, name=plan.name, address=plan.address, region=regions[plan.region],
        operator=operators[plan.operator], kind=plan.kind, category=plan.category, zone_class=plan.zone_class,
        road_class=plan.road_class, lat=plan.lat, lon=plan.lon, total_berths=plan.total_berths,
        ev_berths=plan.ev_berths, accessible_berths=plan.accessible_berths,
        reservable_berths=plan.reservable_berths, free_berths=plan.free_berths, occupancy_updated_at=now,
        opening_hours=plan.opening_hours, tariff=tariffs[pick_tariff(plan)], allow_pay_later=plan.allow_pay_later,
        filing_status=plan.filing_status, compliance_level=plan.compliance_level, status=plan.status,
        last_seen_at=now,
    )
    # The rules lot_save enforces, minus the per-row queries (codes are unique by construction and
    # the foreign keys were just loaded), so thousands of lots validate in well under a second.
    try:
        lot.full_clean(exclude=["region", "operator", "tariff"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise DemoCityError(f"{plan.code}: {exc}", code="demo_lot_invalid")
    return lot


def _free_windows(lots_by_code: dict[str, ParkingLot], regions: dict[str, Region]) -> int:
    """A few examples staff can look at; the dates are real holidays, the measures are made up."""

    def at(*args) -> datetime:
        return datetime(*args, tzinfo=SHANGHAI)

    hospital = next((lot for lot in lots_by_code.values() if lot.category == ParkingLot.Category.HOSPITAL), None)
    windows = [
        (_("2026年春节假期免费停车（演示）"), at(2026, 2, 15), at(2026, 2, 24), None, None),
        (_("2027年春节假期免费停车（演示）"), at(2027, 2, 5), at(2027, 2, 14), None, None),
        (_("梁溪区五一假期免费停车（演示）"), at(2026, 5, 1), at(2026, 5, 6), regions["320213"], None),
    ]
    if hospital is not None:
        windows.append((_("%(lot)s献血者免费停车日（演示）") % {"lot": hospital.name}, at(2026, 6, 14),
                        at(2026, 6, 15), None, hospital))
    created = 0
    for name, starts_at, ends_at, region, lot in windows:
        _window, made = FreeWindow.objects.get_or_create(
            name=name, defaults={"starts_at": starts_at, "ends_at": ends_at, "region": region, "lot": lot})
        created += made
    return created


def _logins(regions: dict[str, Region], operators: dict[str, Operator]) -> list[DemoLogin]:
    """A city-wide superuser, one officer per region and one operator's manager, all on the demo password."""
    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)  # one hash for all: hashing is slow and the password is public anyway
    accounts = [("admin", StaffScope.Kind.CITY, None, None, _("全市（超级管理员）"))]
    for code, meta in REGIONS.items():
        accounts.append((meta.username, StaffScope.Kind.REGION, regions[code], None, regions[code].name))
    chengfa = operators["chengfa"]
    accounts.append(("chengfa", StaffScope.Kind.OPERATOR, None, chengfa, chengfa.name))
    logins = []
    for username, kind, region, operator, label in accounts:
        if user_model.objects.filter(username=username).exists():
            logins.append(DemoLogin(username, str(label), None))
            continue
        user = user_model.objects.create(
            username=username, password=password, is_staff=True, is_superuser=username == "admin",
            first_name=str(label), last_name=str(_("演示账号")),
        )
        StaffScope.objects.create(user=user, kind=kind, region=region, operator=operator)
        staff_grant_default_permissions(user=user)
        logins.append(DemoLogin(username, str(label), DEMO_PASSWORD))
    return logins


@transaction.atomic
def demo_city_seed(*, lots: int = 400, seed: int = 2026, if_empty: bool = False,
                   tariff_path: Path = TARIFF_FIXTURE) -> DemoCity:
    """Fill an empty registry with a deterministic demo city. A registry that has lots is never
    touched: with ``if_empty`` the call is a no-op, without it a refusal, so nothing is duplicated."""
    existing = ParkingLot.objects.count()
    if existing:
        if if_empty:
            return DemoCity(skipped=True, existing_lots=existing)
        raise DemoCityError(
            _("已有 %(n)d 个停车场：演示数据只写入空库。加 --if-empty 可跳过，或先清空数据库。") % {"n": existing},
            code="demo_city_not_empty", details={"existing_lots": existing})
    if lots < 1:
        raise DemoCityError(_("停车场数量至少为 1"), code="demo_city_invalid", field="lots")

    now = timezone.now()
    result = DemoCity()
    regions = regions_load_wuxi()
    tariffs, entries = tariffs_load(tariff_path)
    pick_tariff = _tariff_picker(entries)
    operators, result.operators = _operators_ensure(regions)
    plans = plan_city(lots=lots, seed=seed)

    objs = [_lot(p, regions=regions, operators=operators, tariffs=tariffs, pick_tariff=pick_tariff, now=now)
            for p in plans]
    created = bulk_create_with_history(objs, ParkingLot, batch_size=_BATCH, default_change_reason=_CHANGE_REASON,
                                       default_date=now)
    lots_by_code = {lot.code: lot for lot in created}
    berths = [
        Berth(lot=lots_by_code[p.code], code=b.code, kind=b.kind, floor=b.floor, sensor_id=b.sensor_id, state=b.state,
              state_changed_at=None if b.state == Berth.State.UNKNOWN else now)
        for p in plans for b in p.berths
    ]
    Berth.objects.bulk_create(berths, batch_size=_BATCH)

    result.lots = len(created)
    result.on_street_lots = sum(p.kind == ParkingLot.Kind.ON_STREET for p in plans)
    result.berths = len(berths)
    result.hospitals = sum(p.category == ParkingLot.Category.HOSPITAL for p in plans)
    result.tariffs = len(tariffs)
    result.free_windows = _free_windows(lots_by_code, regions)
    result.logins = _logins(regions, operators)
    result.bookings = bookings_seed(lots=created, now=now, rng=random.Random(seed))
    result.tickets = demo_tickets_seed(seed=seed, now=now)
    return result
