"""The dashboards' panels, each one ``Table`` (issue 11 item 2), all scoped by ``for_user``: a district
officer's panels hold only their region's rows, an operator's staff only their lots'. Panels read the
summaries (``LotDay``, the region rollups) and the other apps' selectors, never raw events.

``PANELS`` maps a panel's key to the function that builds it, so the page and an export of one panel
build it the same way from the same request.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.common.scope import scope_of
from apps.complaints.selectors import punctuality_q, tickets_for_staff
from apps.lots.models import ParkingLot
from apps.regions.models import Operator, Region
from apps.reservations.selectors import hospital_daily_stats, sharing_lot_stats

from ..models import LotRecent, RegionDay, RegionHour, Target
from . import targets
from .areas import districts
from .rollup import RECENT_DAYS
from .tables import Table, pct, yuan

PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
# The hour-by-weekday panel looks at the last four weeks of the period at most (every weekday four
# times), the hotspots at the last four weeks whatever the period: "persistently" means now.
#: a hotspot: busiest hour over 90% full on at least this share of its days in the window
HOTSPOT_SHARE = 0.5
HOTSPOT_MIN_DAYS = 3
HOTSPOT_ROWS = 200
SMART_LOT_ROWS = 500
OPERATOR_ROWS = 50
WEEKDAYS = (gettext_lazy("星期一"), gettext_lazy("星期二"), gettext_lazy("星期三"), gettext_lazy("星期四"),
            gettext_lazy("星期五"), gettext_lazy("星期六"), gettext_lazy("星期日"))


@dataclass(frozen=True)
class Query:
    """What the request asked for: the period (``days`` up to yesterday), the area, the target year."""

    user: object
    days: int
    end: date  # exclusive: today, whose summaries are not complete
    area: int | None  # a district's pk, or None for everything in scope
    year: int
    now: datetime
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # what two panels of one page share

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days)

    @property
    def recent_start(self) -> date:
        return max(self.start, self.end - timedelta(days=RECENT_DAYS))

    @classmethod
    def from_request(cls, request, *, now: datetime | None = None) -> Query:
        now = now or timezone.now()
        today = timezone.localtime(now).date()
        days = _int(request.GET.get("days"))
        years = sorted(set(Target.objects.values_list("year", flat=True))) or [today.year]
        year = _int(request.GET.get("year"))
        if year not in years:
            year = today.year if today.year in years else years[-1]
        area = _int(request.GET.get("area"))
        if area is not None and area not in area_choices(request.user):
            area = None
        return cls(user=request.user, days=days if days in PERIODS else DEFAULT_DAYS, end=today, area=area,
                   year=year, now=now)

    def params(self) -> dict[str, str]:
        out = {"days": str(self.days), "year": str(self.year)}
        if self.area is not None:
            out["area"] = str(self.area)
        return out


def _int(raw) -> int | None:
    try:
        return int(raw) if raw not in (None, "") and len(str(raw)) <= 10 else None
    except ValueError:
        return None


def area_choices(user) -> dict[int, str]:
    """The districts ``user``'s scope reaches: pk → name, in code order."""
    by_pk, owner = districts()
    seen = set(Region.objects.for_user(user).values_list("pk", flat=True))
    found = {owner[pk] for pk in seen if pk in owner}
    return {pk: by_pk[pk].name for pk in sorted(found, key=lambda pk: by_pk[pk].code)}


def _area_regions(q: Query) -> list[int] | None:
    if q.area is None:
        return None
    _by_pk, owner = districts()
    return [pk for pk, district in owner.items() if district == q.area]


def _scoped(queryset, q: Query, region_path: str = "region"):
    rows = queryset.for_user(q.user)
    regions = _area_regions(q)
    return rows if regions is None else rows.filter(**{f"{region_path}__in": regions})


def role_title(user) -> str:
    scope = scope_of(user)
    if scope.city_wide:
        return _("全市监管看板")
    if scope.region_ids:
        names = list(Region.objects.filter(pk__in=scope.region_ids, parent__level=Region.Level.CITY)
                     .values_list("name", flat=True)) or list(
            Region.objects.filter(pk__in=scope.region_ids).values_list("name", flat=True)[:1])
        return _("%(region)s监管看板") % {"region": "、".join(names)}
    if scope.operator_ids:
        names = Operator.objects.filter(pk__in=scope.operator_ids).values_list("name", flat=True)
        return _("%(operator)s运营看板") % {"operator": "、".join(names)}
    return _("监管看板")


# --- targets -----------------------------------------------------------------------------------

def _checks(q: Query):
    if "checks" not in q.memo:
        q.memo["checks"] = targets.lot_checks(_scoped(ParkingLot.objects.all(), q), now=q.now)
    return q.memo["checks"]


def target_panels(q: Query) -> list[Table]:
    checks, goals = _checks(q), targets.targets_for(q.year)
    return [targets.league_table(checks, metric=metric, year=q.year, goals=goals) for metric in targets.METRICS]


def _target_panel(metric: str):
    def build(q: Query) -> Table:
        return targets.league_table(_checks(q), metric=metric, year=q.year)
    return build


def smart_lots(q: Query) -> Table:
    """The counted lots that miss the networking spec, and which criteria they miss."""
    names = {"signed": _("签名接入"), "flows": _("进出场数据"), "lot_status": _("余位快照"),
             "sensors": _("泊位检测（路内）"), "uptime": _("在线率≥95%")}
    declared = dict(ParkingLot.Compliance.choices)
    by_pk, owner = districts()
    yes, no = _("是"), _("否")
    rows = []
    for check in _checks(q):
        if check.met["smart"]:
            continue
        if len(rows) == SMART_LOT_ROWS:
            break
        district = by_pk.get(owner.get(check.region_id))
        rows.append([check.code, check.name, district.name if district else "—", str(declared.get(check.declared)),
                     *[yes if check.smart[c] else no for c in targets.SMART_CRITERIA]])
    return Table(key="smart-lots", title=_("智慧化未达标停车场（按编码，前 %(n)s 个）") % {"n": SMART_LOT_ROWS},
                 columns=[_("编码"), _("名称"), _("区域"), _("备案等级"), *[names[c] for c in targets.SMART_CRITERIA]],
                 rows=rows,
                 note=_("近 %(days)s 天实测；备案等级仅供对照，不计入达标率") % {"days": targets.WINDOW_DAYS})


# --- occupancy, turnover, utilisation -------------------------------------------------------

def occupancy_hours(q: Query) -> Table:
    """Occupancy (%) by weekday and hour of day, over the last four weeks of the period."""
    cells: dict[tuple[int, int], list[float]] = {}
    for r in (_scoped(RegionHour.objects.all(), q).filter(day__gte=q.recent_start, day__lt=q.end)
              .values("weekday", "hour_of_day").annotate(occupied=Sum("occupied_sum"), berths=Sum("total_berths"))
              .order_by()):
        cells[(r["weekday"], r["hour_of_day"])] = [r["occupied"] or 0.0, r["berths"] or 0]
    rows = [[str(WEEKDAYS[d]), *[pct(*cells[(d, h)]) if (d, h) in cells else None for h in range(24)]]
            for d in range(7)]
    area = area_choices(q.user).get(q.area) if q.area else _("全部区域")
    table = Table(key="occupancy-hours",
                  title=_("分时段占用率（%%）· %(area)s · 近 %(days)s 天") % {
                      "area": area, "days": (q.end - q.recent_start).days},
                  columns=[_("星期"), *[_("%(hour)s时") % {"hour": f"{h:02d}"} for h in range(24)]], rows=rows)
    table.chart = {"type": "heatmap", "x": [f"{h:02d}" for h in range(24)], "y": [str(w) for w in WEEKDAYS],
                   "data": [[h, d, rows[d][h + 1]] for d in range(7) for h in range(24) if rows[d][h + 1] is not None]}
    return table


def district_usage(q: Query) -> Table:
    """Per district: berths, utilisation, turnover per berth, and the share of lot days over 90% at peak."""
    by_pk, owner = districts()
    sums: dict[int, dict] = defaultdict(lambda: defaultdict(float))
    for r in (_scoped(RegionDay.objects.all(), q).filter(day__gte=q.start, day__lt=q.end).values("region")
              .annotate(lots=Sum("lots"), berths=Sum("total_berths"), occupied=Sum("occupied_sum"),
                        closed=Sum("sessions_closed"), over=Sum("lot_days_over_90"), days=Count("day", distinct=True))
              .order_by()):
        district = owner.get(r["region"])
        if district is None:
            continue
        for k in ("lots", "berths", "occupied", "closed", "over"):
            sums[district][k] += r[k] or 0
        sums[district]["days"] = max(sums[district]["days"], r["days"])
    rows = []
    for pk in sorted(sums, key=lambda pk: by_pk[pk].code):
        s = sums[pk]
        days = s["days"] or 1
        rows.append([by_pk[pk].name, round(s["lots"] / days), round(s["berths"] / days),
                     pct(s["occupied"], s["berths"]),
                     round(s["closed"] / s["berths"], 2) if s["berths"] else None, pct(s["over"], s["lots"])])
    table = Table(key="usage", title=_("利用率与周转率（近 %(days)s 天）") % {"days": q.days},
                  columns=[_("区域"), _("停车场（日均）"), _("泊位（日均）"), _("平均利用率（%）"),
                           _("周转率（次/泊位·日）"), _("高峰超90%场日占比（%）")], rows=rows,
                  note=_("周转率为完成停车次数 ÷ 泊位日；场日：一个停车场的一天"))
    table.chart = {"type": "bar", "categories": [r[0] for r in rows],
                   "series": [{"name": _("平均利用率（%）"), "data": [r[3] for r in rows]},
                              {"name": _("高峰超90%场日占比（%）"), "data": [r[5] for r in rows]}]}
    return table


def hotspot_rows(q: Query) -> list[dict]:
    """Lots whose busiest hour was over 90% full on at least half their days in the last four weeks
    (``LotRecent``, as last rolled up)."""
    found = list(_scoped(LotRecent.objects.all(), q, "lot__region")
                 .filter(targets.recent_q(q.end), days_over_90__gte=HOTSPOT_MIN_DAYS)
                 .filter(days_over_90__gte=F("days") * HOTSPOT_SHARE)
                 .values("lot", "days", "days_over_90", "peak_sum")
                 .order_by("-days_over_90", "-peak_sum", "lot")[:HOTSPOT_ROWS])
    for r in found:
        r["over"], r["peak"] = r["days_over_90"], r["peak_sum"] / r["days"] if r["days"] else 0.0
    lots = {lot["pk"]: lot for lot in ParkingLot.objects.filter(pk__in=[r["lot"] for r in found]).values(
        "pk", "code", "name", "region_id", "lat", "lon")}
    by_pk, owner = districts()
    out = []
    for r in found:
        lot = lots[r["lot"]]
        district = by_pk.get(owner.get(lot["region_id"]))
        out.append({**lot, "district": district.name if district else "—", "days": r["days"], "over": r["over"],
                    "share": pct(r["over"], r["days"]), "peak": pct(r["peak"] or 0, 1)})
    return out


def hotspots(q: Query) -> Table:
    found = hotspot_rows(q)
    table = Table(key="hotspots", title=_("热难点区域：高峰持续超90%%的停车场（近 %(days)s 天）") % {
        "days": RECENT_DAYS},
        columns=[_("编码"), _("名称"), _("区域"), _("统计天数"), _("超90%天数"), _("超90%天数占比（%）"),
                 _("平均高峰占用率（%）")],
        rows=[[r["code"], r["name"], r["district"], r["days"], r["over"], r["share"], r["peak"]] for r in found],
        note=_("高峰：当日最高小时平均占用 ÷ 总泊位；持续：至少一半天数且不少于 %(n)s 天") % {"n": HOTSPOT_MIN_DAYS})
    table.chart = {"type": "heat", "points": [[r["lat"], r["lon"], round((r["share"] or 0) / 100, 2)] for r in found],
                   "labels": [f'{r["name"]}（{r["share"]}%）' for r in found]}
    return table


# --- money -------------------------------------------------------------------------------------

_MONEY = ("billed", "paid", "waived", "arrears", "recovered")


def _money_rows(queryset, key: str):
    return queryset.values(key).annotate(
        billed=Sum("billed_fen"), paid=Sum("paid_fen"), waived=Sum("waived_fen"), arrears=Sum("arrears_new_fen"),
        recovered=Sum("arrears_recovered_fen")).order_by()


def _money_columns(first: str) -> list[str]:
    return [first, _("应收（元）"), _("实收（元）"), _("减免（元）"), _("新增欠费（元）"), _("追缴（元）"),
            _("追缴率（%）")]


def _money_cells(name, s) -> list:
    return [name, *[yuan(int(s[k] or 0)) for k in _MONEY], pct(s["recovered"] or 0, s["arrears"] or 0)]


def _money_chart(rows) -> dict:
    return {"type": "bar", "categories": [r[0] for r in rows],
            "series": [{"name": _("实收（元）"), "data": [float(r[2]) for r in rows]},
                       {"name": _("新增欠费（元）"), "data": [float(r[4]) for r in rows]},
                       {"name": _("追缴（元）"), "data": [float(r[5]) for r in rows]}]}


def money_districts(q: Query) -> Table:
    by_pk, owner = districts()
    sums: dict[int, dict] = defaultdict(lambda: dict.fromkeys(_MONEY, 0))
    rows_qs = _scoped(RegionDay.objects.all(), q).filter(day__gte=q.start, day__lt=q.end)
    for r in _money_rows(rows_qs, "region"):
        district = owner.get(r["region"])
        if district is not None:
            for k in _MONEY:
                sums[district][k] += r[k] or 0
    rows = [_money_cells(by_pk[pk].name, sums[pk]) for pk in sorted(sums, key=lambda pk: by_pk[pk].code)]
    table = Table(key="money-districts", title=_("收费、欠费与追缴 · 按区域（近 %(days)s 天）") % {"days": q.days},
                  columns=_money_columns(_("区域")), rows=rows)
    table.chart = _money_chart(rows)
    return table


def money_operators(q: Query) -> Table:
    rows_qs = _scoped(RegionDay.objects.all(), q).filter(day__gte=q.start, day__lt=q.end)
    found = sorted(_money_rows(rows_qs, "operator"), key=lambda r: (-(r["paid"] or 0), r["operator"] or 0))
    names = dict(Operator.objects.filter(pk__in=[r["operator"] for r in found[:OPERATOR_ROWS]])
                 .values_list("pk", "name"))
    rows = [_money_cells(names.get(r["operator"], _("未登记经营单位")), r) for r in found[:OPERATOR_ROWS]]
    table = Table(key="money-operators",
                  title=_("收费、欠费与追缴 · 按经营单位（近 %(days)s 天，实收前 %(n)s 名）") % {
                      "days": q.days, "n": OPERATOR_ROWS},
                  columns=_money_columns(_("经营单位")), rows=rows)
    table.chart = _money_chart(rows[:15])
    return table


# --- hotline, reservations, sharing ----------------------------------------------------------

def _local_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.get_current_timezone())


def hotline(q: Query) -> Table:
    by_pk, owner = districts()
    tickets = tickets_for_staff(q.user).filter(created_at__gte=_local_start(q.start),
                                               created_at__lt=_local_start(q.end))
    regions = _area_regions(q)
    if regions is not None:
        tickets = tickets.filter(region__in=regions)
    sums: dict[int | None, dict] = defaultdict(lambda: defaultdict(int))
    for r in tickets.values("region").annotate(
            volume=Count("pk"), on_time=Count("pk", filter=punctuality_q("on_time", now=q.now)),
            late=Count("pk", filter=punctuality_q("late", now=q.now)),
            overdue=Count("pk", filter=punctuality_q("overdue", now=q.now))).order_by():
        district = owner.get(r["region"]) if r["region"] else None
        for k in ("volume", "on_time", "late", "overdue"):
            sums[district][k] += r[k]
    order = sorted(sums, key=lambda pk: (pk is None, by_pk[pk].code if pk else ""))
    rows = [[by_pk[pk].name if pk else _("未分区"), s["volume"], s["on_time"], s["late"], s["overdue"],
             pct(s["on_time"], s["on_time"] + s["late"])] for pk, s in ((pk, sums[pk]) for pk in order)]
    table = Table(key="hotline", title=_("热线工单量与按时办结（近 %(days)s 天受理）") % {"days": q.days},
                  columns=[_("区域"), _("工单量"), _("按时办结"), _("超时办结"), _("超期未办"), _("按时办结率（%）")],
                  rows=rows)
    table.chart = {"type": "bar", "categories": [r[0] for r in rows],
                   "series": [{"name": _("按时办结"), "data": [r[2] for r in rows], "stack": "done"},
                              {"name": _("超时办结"), "data": [r[3] for r in rows], "stack": "done"},
                              {"name": _("超期未办"), "data": [r[4] for r in rows], "stack": "done"}]}
    return table


def reservations(q: Query) -> Table:
    sums: dict[str, dict] = {}
    for r in hospital_daily_stats(user=q.user, start=_local_start(q.start), end=_local_start(q.end)):
        s = sums.setdefault(r["hospital"], dict.fromkeys(("places", "booked", "arrived", "no_show", "cancelled"), 0))
        for k in s:
            s[k] += r[k]
    rows = [[name, s["places"], s["booked"], s["arrived"], s["no_show"], s["cancelled"], pct(s["booked"], s["places"])]
            for name, s in sorted(sums.items())]
    table = Table(key="reservations", title=_("预约停车使用（近 %(days)s 天）") % {"days": q.days},
                  columns=[_("预约点"), _("名额"), _("已预约"), _("已到达"), _("爽约"), _("已取消"), _("预约率（%）")],
                  rows=rows)
    table.chart = {"type": "bar", "categories": [r[0] for r in rows],
                   "series": [{"name": _("名额"), "data": [r[1] for r in rows]},
                              {"name": _("已预约"), "data": [r[2] for r in rows]},
                              {"name": _("已到达"), "data": [r[3] for r in rows]}]}
    return table


def sharing(q: Query) -> Table:
    regions = _area_regions(q)
    codes = None if regions is None else set(
        ParkingLot.objects.filter(region__in=regions).values_list("code", flat=True))
    rows = [[r["lot_code"], r["lot"], r["contracts"], r["active"], yuan(r["revenue_fen"]), r["stays_inside"],
             r["stays_outside"]] for r in sharing_lot_stats(user=q.user, now=q.now)
            if codes is None or r["lot_code"] in codes]
    table = Table(key="sharing", title=_("错峰共享使用"),
                  columns=[_("编码"), _("停车场"), _("合同"), _("生效中"), _("合同收入（元）"), _("窗口内停车次数"),
                           _("窗口外停车次数")], rows=rows)
    table.chart = {"type": "bar", "categories": [r[1] for r in rows],
                   "series": [{"name": _("窗口内停车次数"), "data": [r[5] for r in rows]},
                              {"name": _("窗口外停车次数"), "data": [r[6] for r in rows]}]}
    return table


PANELS = {
    **{f"target-{metric}": _target_panel(metric) for metric in targets.METRICS},
    "smart-lots": smart_lots,
    "occupancy-hours": occupancy_hours,
    "usage": district_usage,
    "hotspots": hotspots,
    "money-districts": money_districts,
    "money-operators": money_operators,
    "hotline": hotline,
    "reservations": reservations,
    "sharing": sharing,
}


def sections(q: Query) -> list[tuple[str, list[Table]]]:
    """The page: its sections in order, each with its panels."""
    return [
        (_("建设目标"), [*target_panels(q), smart_lots(q)]),
        (_("占用、周转与热难点"), [occupancy_hours(q), district_usage(q), hotspots(q)]),
        (_("收费与欠费"), [money_districts(q), money_operators(q)]),
        (_("热线、预约与共享"), [hotline(q), reservations(q), sharing(q)]),
    ]
