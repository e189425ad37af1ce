"""The targets' arithmetic on crafted lots, the league table's order, and the target rows staff edit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from apps.analytics.dashboards import targets
from apps.analytics.dashboards.services import target_save
from apps.analytics.models import LotDay, Target
from apps.common.errors import Forbidden
from apps.lots.models import ParkingLot
from apps.regions.models import Operator
from tests.factories import LotFactory, OperatorFactory

from .conftest import NOW, days_before, lot_days, refresh, state_lot

pytestmark = pytest.mark.django_db


@pytest.fixture
def crafted(city):
    """梁溪: A meets everything; B silent for 25 min, no flows, no settlement account; E on-street
    without berth sensors. Not counted: a private operator's lot, an unfiled lot, a closed lot.
    滨湖: F meets everything."""
    lx, bh = city["320213"], city["320211"]
    window = days_before(NOW, targets.WINDOW_DAYS)
    a = state_lot(lx, code="LX-A", pay_later=True)
    lot_days(a, window)
    b = state_lot(lx, code="LX-B", live=False, settlement=False)
    e = state_lot(lx, code="LX-R-E", kind=ParkingLot.Kind.ON_STREET, category=ParkingLot.Category.ROAD,
                  zone_class="core", road_class="arterial")
    lot_days(e, window)
    private = LotFactory(code="LX-P", region=lx, operator=OperatorFactory(ownership=Operator.Ownership.PRIVATE),
                         filing_status="filed", last_seen_at=NOW)
    unfiled = state_lot(lx, code="LX-U", filing_status=ParkingLot.Filing.PENDING)
    closed = state_lot(lx, code="LX-C", status=ParkingLot.Status.CLOSED)
    f = state_lot(bh, code="BH-F", sensors=True, pay_later=True)
    lot_days(f, window)
    refresh(NOW, targets.WINDOW_DAYS)
    return {"a": a, "b": b, "e": e, "f": f, "private": private, "unfiled": unfiled, "closed": closed}


def by_code(checks):
    return {c.code: c for c in checks}


def test_each_criterion_is_read_from_the_rows(crafted):
    checks = by_code(targets.lot_checks(ParkingLot.objects.all(), now=NOW))
    assert set(checks) == {"LX-A", "LX-B", "LX-R-E", "BH-F"}  # the private, unfiled and closed lots are not counted
    assert checks["LX-A"].met == {"networked": True, "smart": True, "pay_code": True, "pay_later": True}
    assert checks["LX-B"].met == {"networked": False, "smart": False, "pay_code": False, "pay_later": False}
    assert checks["LX-B"].smart == {"signed": True, "flows": False, "lot_status": True, "sensors": True,
                                    "uptime": False}
    # on-street without a geomagnetic, video or robot key: networked, but not smart
    assert checks["LX-R-E"].met["networked"] and not checks["LX-R-E"].met["smart"]
    assert [c for c, ok in checks["LX-R-E"].smart.items() if not ok] == ["sensors"]


def test_a_revoked_key_a_stale_snapshot_and_low_uptime_each_fail_their_criterion(crafted):
    lot = crafted["a"]
    lot.devices.update(revoked_at=NOW - timedelta(days=1))
    assert not by_code(targets.lot_checks(ParkingLot.objects.all(), now=NOW))["LX-A"].met["networked"]
    lot.devices.update(revoked_at=None)
    ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=NOW - timedelta(days=targets.WINDOW_DAYS + 1))
    assert by_code(targets.lot_checks(ParkingLot.objects.all(), now=NOW))["LX-A"].smart["lot_status"] is False
    ParkingLot.objects.filter(pk=lot.pk).update(snapshot_at=NOW)
    # 95% of 28 days is 38,304 minutes: 1 day down is 96.4%, 2 days down 92.9%
    first_day = LotDay.objects.filter(lot=lot).order_by("day").first()
    LotDay.objects.filter(pk=first_day.pk).update(online_minutes=0)
    refresh(NOW, targets.WINDOW_DAYS)
    assert by_code(targets.lot_checks(ParkingLot.objects.all(), now=NOW))["LX-A"].smart["uptime"] is True
    first_two = list(LotDay.objects.filter(lot=lot).order_by("day").values_list("pk", flat=True)[:2])
    LotDay.objects.filter(pk__in=first_two).update(online_minutes=0)
    refresh(NOW, targets.WINDOW_DAYS)
    assert by_code(targets.lot_checks(ParkingLot.objects.all(), now=NOW))["LX-A"].smart["uptime"] is False


def test_league_values_targets_gaps_and_order(crafted):
    checks = targets.lot_checks(ParkingLot.objects.all(), now=NOW)
    rows, total = targets.league(checks, metric="networked", year=2026)
    assert [(r.rank, r.district, r.counted, r.met, r.value, r.target, r.gap) for r in rows] == [
        (1, "滨湖区", 1, 1, 100.0, 100.0, 0.0),
        (2, "梁溪区", 3, 2, 66.7, 100.0, 33.3),
    ]
    assert (total.counted, total.met, total.value, total.target) == (4, 3, 75.0, 100.0)
    smart, _ = targets.league(checks, metric="smart", year=2026)
    assert [(r.district, r.value, r.gap) for r in smart] == [("滨湖区", 100.0, 0.0), ("梁溪区", 33.3, 66.7)]
    pay_code, _ = targets.league(checks, metric="pay_code", year=2025)
    assert [(r.district, r.value, r.target) for r in pay_code] == [("滨湖区", 100.0, 90.0), ("梁溪区", 66.7, 90.0)]


def test_a_district_row_overrides_the_city_wide_target_and_ties_share_a_rank(crafted, city):
    Target.objects.create(metric="pay_later", year=2026, region=city["320213"], percent=30)
    checks = targets.lot_checks(ParkingLot.objects.all(), now=NOW)
    rows, total = targets.league(checks, metric="pay_later", year=2026)
    lx = next(r for r in rows if r.district == "梁溪区")
    assert (lx.value, lx.target, lx.gap) == (33.3, 30.0, 0.0)  # met its own goal
    assert total.target == 80.0  # the city's seeded 2026 reading
    # two districts at 100%: both first, the next one third
    xs = state_lot(city["320205"], code="XS-1")
    lot_days(xs, days_before(NOW, targets.WINDOW_DAYS))
    refresh(NOW, targets.WINDOW_DAYS)
    ranked, _ = targets.league(targets.lot_checks(ParkingLot.objects.all(), now=NOW), metric="networked", year=2026)
    assert [(r.rank, r.district) for r in ranked] == [(1, "滨湖区"), (1, "锡山区"), (3, "梁溪区")]


def test_seeded_targets_state_the_document_and_which_are_provisional(db):
    firm = dict(Target.objects.filter(region=None, provisional=False).values_list("metric", "percent"))
    assert {k: float(v) for k, v in firm.items()} == {"networked": 100.0, "smart": 100.0}
    assert set(Target.objects.filter(region=None).values_list("year", flat=True)) == {2025, 2026}
    assert all(t.basis == "锡政办发〔2025〕12号" for t in Target.objects.all())


def test_only_the_city_sets_city_wide_targets(city, staff_factory):
    officer = staff_factory("region", "320213")
    goal = Target.objects.get(metric="smart", year=2026, region=None)
    goal.percent = 50
    with pytest.raises(Forbidden):
        target_save(target=goal, actor=officer)
    own = target_save(target=Target(metric="smart", year=2026, region=city["320213"], percent=90), actor=officer)
    assert own.pk and float(Target.objects.get(pk=own.pk).percent) == 90.0
    with pytest.raises(Forbidden):
        target_save(target=Target(metric="smart", year=2026, region=city["320211"], percent=90), actor=officer)
    from apps.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="target.created").count() == 1
