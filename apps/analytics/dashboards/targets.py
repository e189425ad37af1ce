"""How far each district is from the city's targets (锡政办发〔2025〕12号; issue 11 item 2).

Who is counted: the registered state-owned public lots — category 公共停车场 or 道路泊位, run by a
government or state-owned operator, filed (已备案) and open. Every metric is the share of these that
meets it:

- 联网率 (networked): the lot streams live data now — a key issued for it and not revoked, and a
  request from it within the offline threshold (``LOT_OFFLINE_AFTER_S``, SPEC §3.3), not marked offline.
- 智慧化达标率 (smart): the networking spec is met, each criterion read from real rows over the last
  ``WINDOW_DAYS`` days: a signed feed (a live key), entries *and* exits reported (``LotDay``, added
  up in ``LotRecent``), a
  ``lot_status`` snapshot (``ParkingLot.snapshot_at``), berth sensors where on-street (a live key of a
  geomagnetic, video or robot device), and uptime of at least ``UPTIME_MIN`` (``LotDay.online_minutes``).
  ``compliance_level`` is what staff filed for the lot; the dashboard shows it beside what was measured,
  but only the measurement counts.
- 统一支付码覆盖率 (pay code): the lot's one payment code (apps.payments ``PayCodeLot``, ``/pay/<code>/``)
  can take money: the lot has a tariff to price the stay and its operator a settlement account.
- 先离场后付费覆盖率 (pay later): the lot lets a driver leave first and pay after (``allow_pay_later``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.lots.models import Device, ParkingLot
from apps.payments.models import PayCodeLot
from apps.regions.models import Operator

from ..models import LotRecent, Target
from .areas import districts
from .rollup import RECENT_DAYS
from .tables import Table, pct

PUBLIC_CATEGORIES = (ParkingLot.Category.PUBLIC, ParkingLot.Category.ROAD)
STATE_OWNERSHIPS = (Operator.Ownership.GOVERNMENT, Operator.Ownership.STATE_OWNED)
SENSOR_KINDS = (Device.Kind.GEOMAGNETIC, Device.Kind.VIDEO, Device.Kind.ROBOT)
WINDOW_DAYS = RECENT_DAYS
UPTIME_MIN = 0.95

METRICS = tuple(Target.Metric)
SMART_CRITERIA = ("signed", "flows", "lot_status", "sensors", "uptime")


def counted_lots(lots):
    """The registered state-owned public lots among ``lots`` (the denominator of every metric)."""
    return lots.filter(category__in=PUBLIC_CATEGORIES, operator__ownership__in=STATE_OWNERSHIPS,
                       filing_status=ParkingLot.Filing.FILED, status=ParkingLot.Status.OPEN)


def recent_q(today) -> Q:
    """The lots' recent window as last rolled up: up to today, or a day or two earlier if the
    rollup has not run since; older is no longer "recent" and counts as nothing reported."""
    return Q(end__lte=today, end__gt=today - timedelta(days=3))


def paycode_ready_q() -> Q:
    """A lot whose payment code can take money: priced, and paid out to its operator."""
    return Q(tariff__isnull=False, operator__settlement_account_no__gt="")


@dataclass
class LotCheck:
    pk: int
    code: str
    name: str
    region_id: int
    declared: str
    met: dict[str, bool] = field(default_factory=dict)  # metric → met
    smart: dict[str, bool] = field(default_factory=dict)  # criterion → met


def lot_checks(lots, *, now: datetime) -> list[LotCheck]:
    """Each counted lot among ``lots`` with what it meets: three queries whatever the number of lots."""
    live_key = Device.objects.filter(lots=OuterRef("pk"), revoked_at__isnull=True)
    seen_after = now - timedelta(seconds=settings.LOT_OFFLINE_AFTER_S)
    since = now - timedelta(days=WINDOW_DAYS)
    counted = counted_lots(lots)
    rows = (counted.annotate(
        signed=Exists(live_key), sensors=Exists(live_key.filter(kind__in=SENSOR_KINDS)),
        pay_code=Exists(PayCodeLot.objects.filter(paycode_ready_q(), pk=OuterRef("pk"))),
        # decided in SQL: thousands of timestamps are slow to bring into Python only to compare them
        seen=ExpressionWrapper(Q(offline_since__isnull=True, last_seen_at__gte=seen_after), BooleanField()),
        snapshot=ExpressionWrapper(Q(snapshot_at__gte=since), BooleanField()))
        .values("pk", "code", "name", "region_id", "kind", "compliance_level", "allow_pay_later", "seen", "snapshot",
                "signed", "sensors", "pay_code").order_by("code"))
    rows = list(rows)
    end_day = timezone.localtime(now).date()
    flows = {r["lot_id"]: r for r in LotRecent.objects.filter(recent_q(end_day), lot__in=counted.values("pk"))
             .values("lot_id", "days", "entries", "exits", "online_minutes")}
    window_minutes = WINDOW_DAYS * 24 * 60
    checks = []
    for r in rows:
        flow = flows.get(r["pk"], {})
        smart = {
            "signed": r["signed"],
            "flows": bool(flow.get("entries")) and bool(flow.get("exits")),
            "lot_status": bool(r["snapshot"]),
            "sensors": r["sensors"] or r["kind"] != ParkingLot.Kind.ON_STREET,
            "uptime": (flow.get("online_minutes") or 0) >= UPTIME_MIN * window_minutes,
        }
        networked = r["signed"] and bool(r["seen"])
        checks.append(LotCheck(
            pk=r["pk"], code=r["code"], name=r["name"], region_id=r["region_id"], declared=r["compliance_level"],
            smart=smart, met={"networked": networked, "smart": all(smart.values()), "pay_code": r["pay_code"],
                              "pay_later": r["allow_pay_later"]}))
    return checks


def targets_for(year: int) -> dict[tuple[str, int | None], float]:
    """(metric, region pk or None for the city-wide goal) → target % for ``year``."""
    return {(metric, region): float(percent) for metric, region, percent in
            Target.objects.filter(year=year).values_list("metric", "region_id", "percent")}


@dataclass
class LeagueRow:
    rank: int | None
    district: str
    counted: int
    met: int
    value: float | None
    target: float | None
    gap: float | None  # percentage points still to go (0 when met)


def league(checks: list[LotCheck], *, metric: str, year: int, goals=None) -> tuple[list[LeagueRow], LeagueRow]:
    """The districts ranked by ``metric`` (best first; a district with no counted lot last), and the
    city's total row. Ties share a rank."""
    goals = targets_for(year) if goals is None else goals
    by_pk, owner = districts()
    counted: dict[int, int] = defaultdict(int)
    met: dict[int, int] = defaultdict(int)
    for check in checks:
        district = owner.get(check.region_id)
        if district is None:
            continue
        counted[district] += 1
        met[district] += check.met[metric]
    city_goal = goals.get((metric, None))

    def row(name, n, m, goal, rank=None):
        value = pct(m, n)
        gap = None if value is None or goal is None else round(max(0.0, goal - value), 1)
        return LeagueRow(rank=rank, district=name, counted=n, met=m, value=value, target=goal, gap=gap)

    rows = [row(by_pk[pk].name, counted[pk], met[pk], goals.get((metric, pk), city_goal))
            for pk in sorted(counted, key=lambda pk: by_pk[pk].code)]
    rows.sort(key=lambda r: (r.value is None, -(r.value or 0), r.gap or 0, r.district))
    previous, rank = None, 0
    for i, r in enumerate(rows, start=1):
        if r.value is None:
            continue
        if (r.value, r.gap) != previous:
            rank, previous = i, (r.value, r.gap)
        r.rank = rank
    total = row(_("全市合计"), sum(counted.values()), sum(met.values()), city_goal)
    return rows, total


def league_table(checks: list[LotCheck], *, metric: str, year: int, goals=None) -> Table:
    rows, total = league(checks, metric=metric, year=year, goals=goals)
    label = Target.Metric(metric).label
    table = Table(
        key=f"target-{metric}", title=_("%(metric)s（%(year)s年目标）") % {"metric": label, "year": year},
        columns=[_("排名"), _("区域"), _("统计停车场"), _("达标停车场"), _("当前值（%）"), _("目标值（%）"),
                 _("差距（百分点）")],
        rows=[[r.rank, r.district, r.counted, r.met, r.value, r.target, r.gap] for r in [*rows, total]],
        note=_("统计范围：已备案、开放的国有公共停车场（含道路泊位）"))
    table.chart = {"type": "bar", "categories": [r.district for r in rows],
                   "series": [{"name": _("当前值（%）"), "data": [r.value for r in rows]},
                              {"name": _("目标值（%）"), "data": [r.target for r in rows], "kind": "target"}],
                   "max": 100}
    return table
