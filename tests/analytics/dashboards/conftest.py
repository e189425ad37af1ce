"""Crafted lots and their summaries for the dashboards' tests. The lot rollups are another part's
work: these tests write ``LotDay``/``LotHour`` rows directly, as the rollups would leave them."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import factory
import pytest
from django.utils import timezone

from apps.analytics.dashboards.rollup import region_days_refresh_range
from apps.analytics.models import LotDay, LotHour
from apps.lots.models import Device, ParkingLot
from apps.lots.services import device_issue
from apps.regions.models import Operator
from tests.factories import LotFactory, OperatorFactory

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


class LotDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LotDay

    region = factory.LazyAttribute(lambda o: o.lot.region)
    operator = factory.LazyAttribute(lambda o: o.lot.operator)
    total_berths = factory.LazyAttribute(lambda o: o.lot.total_berths)
    entries = 40
    exits = 40
    sessions_closed = 40
    occupied_avg = 50.0
    peak_ratio = 0.6
    online_minutes = 1440


def days_before(now: datetime, n: int) -> list:
    """The ``n`` local days before ``now``'s day (``now``'s day excluded), oldest first."""
    today = timezone.localtime(now).date()
    return [today - timedelta(days=i) for i in range(n, 0, -1)]


def lot_days(lot, days, **values) -> list[LotDay]:
    return LotDay.objects.bulk_create([LotDayFactory.build(lot=lot, day=day, **values) for day in days])


def lot_hours(lot, day, occupied_by_hour: dict[int, float]) -> list[LotHour]:
    tz = timezone.get_current_timezone()
    rows = []
    for hour, occupied in occupied_by_hour.items():
        at = datetime.combine(day, time(hour), tzinfo=tz)
        rows.append(LotHour(lot=lot, hour=at, weekday=day.weekday(), hour_of_day=hour, total_berths=lot.total_berths,
                            occupied_avg=occupied, occupied_max=round(occupied), samples=12, entries=5, exits=5))
    return LotHour.objects.bulk_create(rows)


def refresh(now: datetime, n: int = 40) -> None:
    days = days_before(now, n)
    region_days_refresh_range(start=days[0], end=days[-1])


def state_lot(region, *, code: str, live: bool = True, sensors: bool = False, settlement: bool = True,
              pay_later: bool = False, now: datetime = NOW, **kwargs) -> ParkingLot:
    """A filed, open public lot of a state-owned operator; ``live``: a key and a request a minute ago."""
    operator = kwargs.pop("operator", None) or OperatorFactory(
        region=region, ownership=Operator.Ownership.STATE_OWNED,
        settlement_account_no="6222020000000001" if settlement else "")
    defaults = {"category": ParkingLot.Category.PUBLIC, "filing_status": ParkingLot.Filing.FILED,
                "status": ParkingLot.Status.OPEN, "allow_pay_later": pay_later,
                "last_seen_at": now - timedelta(minutes=1) if live else now - timedelta(minutes=25),
                "snapshot_at": now - timedelta(hours=1)}
    lot = LotFactory(code=code, region=region, operator=operator, **{**defaults, **kwargs})
    device_issue(name=f"{code} 管理系统", lots=[lot])
    if sensors:
        device_issue(name=f"{code} 地磁", lots=[lot], kind=Device.Kind.GEOMAGNETIC)
    return lot


@pytest.fixture
def now():
    return NOW


@pytest.fixture(autouse=True)
def seeded_targets(request):
    """The targets migration 0003 seeds (a transactional test elsewhere may have flushed them)."""
    if "db" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    from importlib import import_module

    from django.apps import apps

    request.getfixturevalue("db")
    import_module("apps.analytics.migrations.0003_dashboards").seed_targets(apps, None)
