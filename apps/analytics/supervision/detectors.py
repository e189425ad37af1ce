"""What each rule finds: one set-based query over every lot per run (the city has 8,400 lots),
never a query per lot. A detector returns ``{lot id: numbers}`` for the lots at fault now; the
numbers are what the case's evidence shows. A detector may name the ``episode`` (an outage's id):
a different episode at the same lot is a new case even when the lot never left the findings.

Lots whose operating status is 关闭 (closed by staff) are never at fault: a closed lot going quiet
is expected. Times in the numbers are ISO 8601 on the city's clock (Asia/Shanghai)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, RowNumber
from django.utils import timezone

from apps.lots.models import Device, LotOutage, ParkingLot
from apps.sessions.models import EventType, IngestEvent, ParkingSession

from ..models import LotHour, OccupancySample, SupervisionRule
from . import rules

Findings = dict[int, dict]
Detector = Callable[[SupervisionRule], Findings]

MOVES = (EventType.ENTRY, EventType.EXIT)
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def iso(value: datetime | None) -> str | None:
    return None if value is None else timezone.localtime(value).isoformat(timespec="seconds")


def _lots():
    return ParkingLot.objects.exclude(status=ParkingLot.Status.CLOSED)


def _count(queryset, group: str = "lot"):
    """A correlated ``COUNT(*)`` of ``queryset`` (already filtered on its outer row), 0 when empty."""
    return Coalesce(Subquery(queryset.order_by().values(group).annotate(n=Count("pk")).values("n")[:1]), 0)


def is_open_at(opening_hours: str, moment: datetime) -> bool:
    """Whether ``moment`` (local time) falls in a lot's opening hours (``07:00-22:00``, several
    comma-separated, ``00:00-24:00`` all day, an end before the start past midnight). Hours the
    registry could not read count as open: the rule then judges the lot rather than skipping it."""
    local = timezone.localtime(moment).time()
    parts = [p.strip() for p in re.split(r"[,，;；]", opening_hours or "") if p.strip()]
    if not parts:
        return True
    for part in parts:
        match = _HOURS.match(part)
        if match is None:
            return True
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start = time(min(h1, 23), m1)
        if h2 >= 24:
            if local >= start:
                return True
            continue
        end = time(h2, m2)
        if (start <= local < end) if start < end else (local >= start or local < end):
            return True
    return False


def _at_least(value: float) -> int:
    return max(1, math.ceil(value))


# -- connectivity ---------------------------------------------------------------------------------
def outage(rule: SupervisionRule, *, now: datetime) -> Findings:
    """An outage still open after ``window_minutes``: the lot has sent nothing since it went offline."""
    cutoff = now - timedelta(minutes=rule.window_minutes)
    rows = (LotOutage.objects.filter(ended_at__isnull=True, started_at__lte=cutoff, lot__in=_lots())
            .values_list("lot_id", "pk", "started_at"))
    return {lot_id: {"episode": pk, "outage_id": pk, "offline_since": iso(started),
                     "offline_minutes": int((now - started).total_seconds() // 60)}
            for lot_id, pk, started in rows}


def outage_ended_at(episodes: list) -> dict:
    """When each outage named by a case ended (its lot was heard again), for the case's evidence."""
    return dict(LotOutage.objects.filter(pk__in=[e for e in episodes if e is not None])
                .values_list("pk", "ended_at"))


def outage_repeated(rule: SupervisionRule, *, now: datetime) -> Findings:
    """At least ``threshold`` outages started within ``window_minutes`` (恶意断网 comes and goes)."""
    since = now - timedelta(minutes=rule.window_minutes)
    rows = (LotOutage.objects.filter(started_at__gte=since, started_at__lte=now, lot__in=_lots())
            .values("lot_id").annotate(n=Count("pk"), first=Min("started_at"), last=Max("started_at"))
            .filter(n__gte=_at_least(rule.threshold)).order_by())
    return {r["lot_id"]: {"outages": r["n"], "first_started_at": iso(r["first"]), "last_started_at": iso(r["last"])}
            for r in rows}


# -- silence --------------------------------------------------------------------------------------
def _received_since(since: datetime) -> Q:
    """A bound on ``received_at`` for the events that occurred at or after ``since``, so the scan
    of a window is a range of the append-ordered table (its BRIN index, ``ingest_received_brin``)
    instead of every lot's whole history. Exact: ingest stamps ``received_at`` with its own clock
    and refuses events dated more than ``INGEST_MAX_FUTURE_S`` ahead of it."""
    return Q(received_at__gte=since - timedelta(seconds=settings.INGEST_MAX_FUTURE_S))


def _hours_at(local: datetime, days: int) -> list[datetime]:
    """The same local clock hour on each of the ``days`` days before ``local``'s: the rows of
    ``LotHour`` a lot's history at this hour is, read by their ``hour`` index."""
    start = local.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    return [timezone.make_aware(start - timedelta(days=k)) for k in range(1, days + 1)]


def silent(rule: SupervisionRule, *, now: datetime) -> Findings:
    """The lot is heard (online, no outage in the window) but has sent no entry or exit for
    ``window_minutes``, while it is open and, by its own ``LotHour`` history at this hour of the
    day over ``history_days``, normally sees at least ``threshold`` entries and exits an hour
    (with at least ``minimum`` such hours of history).

    Set-based at city scale: the window's moves are one range scan (``_received_since``) read as
    a hashed ``NOT IN``, the history one grouped read of the same hour on each past day; only the
    few lots found then count their other events and devices."""
    since = now - timedelta(minutes=rule.window_minutes)
    local = timezone.localtime(now)
    hour_start = local.replace(minute=0, second=0, microsecond=0)
    history = LotHour.objects.filter(hour__in=_hours_at(local, rule.history_days), hour_of_day=local.hour,
                                     hour__gte=hour_start - timedelta(days=rule.history_days), hour__lt=hour_start)
    busy = (history.values("lot").annotate(v=Avg(F("entries") + F("exits")), n=Count("pk"))
            .filter(v__gte=rule.threshold, n__gte=rule.minimum).order_by().values("lot"))
    heard_since = now - timedelta(seconds=settings.LOT_OFFLINE_AFTER_S)
    moving = (IngestEvent.objects.filter(_received_since(since), type__in=MOVES, occurred_at__gte=since)
              .order_by().values("lot_id"))
    down = LotOutage.objects.filter(lot=OuterRef("pk")).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
    devices = Device.objects.filter(lots=OuterRef("pk"), revoked_at__isnull=True, last_seen_at__gte=heard_since)
    rows = list(_lots().filter(offline_since__isnull=True, last_seen_at__gte=heard_since, pk__in=busy)
                .exclude(pk__in=moving).filter(~Exists(down))
                .annotate(devices_heard=_count(devices, group="lots"))
                .values_list("pk", "opening_hours", "devices_heard", "last_seen_at"))
    rows = [row for row in rows if is_open_at(row[1], now)]
    if not rows:
        return {}
    found = [row[0] for row in rows]
    normal = {lot: (v, n) for lot, v, n in history.filter(lot__in=found).values("lot").annotate(
        v=Avg(F("entries") + F("exits")), n=Count("pk")).order_by().values_list("lot", "v", "n")}
    heard = dict(IngestEvent.objects.filter(_received_since(since), lot__in=found, received_at__gte=since)
                 .values("lot_id").annotate(n=Count("pk")).order_by().values_list("lot_id", "n"))
    return {pk: {"normal_moves_per_hour": round(normal[pk][0], 1), "history_hours": normal[pk][1],
                 "hour_of_day": local.hour, "moves_in_window": 0, "silent_since": iso(since),
                 "events_in_window": heard.get(pk, 0), "devices_heard": devices_heard, "last_seen_at": iso(last_seen)}
            for pk, _hours, devices_heard, last_seen in rows}


# -- counts ---------------------------------------------------------------------------------------
def count_drift(rule: SupervisionRule, *, now: datetime) -> Findings:
    """Between the lot's first and last ``lot_status`` snapshot in ``window_minutes``, the change
    its own snapshots report (free before − free after) differs from its entries − exits by more
    than the tolerance: ``threshold`` berths or ``ratio`` of its total, whichever is larger.

    One pass over the window's snapshots, entries and exits (a range scan, ``_received_since``),
    in window functions per lot: the first and last snapshot by (time, id), and at each the lot's
    running count of entries and exits up to that time (its peers included), so the moves in
    between are the running count at the last snapshot less the one at the first."""
    since = now - timedelta(minutes=rule.window_minutes)
    lot, snapshot = [F("lot_id")], Case(When(type=EventType.LOT_STATUS, then=0), default=1)
    moves_up_to = {kind: Window(Sum(Case(When(type=kind, then=1), default=0)), partition_by=lot,
                                order_by=F("occurred_at").asc())
                   for kind in (EventType.ENTRY, EventType.EXIT)}
    rows = (IngestEvent.objects
            .filter(_received_since(since), occurred_at__gte=since, occurred_at__lte=now,
                    type__in=(EventType.LOT_STATUS, *MOVES), lot__in=_lots().filter(snapshot_at__gte=since))
            .annotate(free=Cast(KT("payload__free_berths"), IntegerField()),
                      entries_to=moves_up_to[EventType.ENTRY], exits_to=moves_up_to[EventType.EXIT],
                      snapshots=Window(Sum(Case(When(type=EventType.LOT_STATUS, then=1), default=0)),
                                       partition_by=lot),
                      first=Window(RowNumber(), partition_by=lot,
                                   order_by=[snapshot.asc(), F("occurred_at").asc(), F("pk").asc()]),
                      last=Window(RowNumber(), partition_by=lot,
                                  order_by=[snapshot.asc(), F("occurred_at").desc(), F("pk").desc()]))
            .filter(Q(first=1) | Q(last=1), snapshots__gte=max(2, rule.minimum))
            .order_by()
            .values_list("lot_id", "first", "occurred_at", "free", "entries_to", "exits_to", "snapshots"))
    ends: dict[int, dict] = {}
    for pk, first, at, free, entries_to, exits_to, snapshots in rows:
        ends.setdefault(pk, {"snapshots": snapshots})["first" if first == 1 else "last"] = (at, free, entries_to,
                                                                                           exits_to)
    totals = dict(ParkingLot.objects.filter(pk__in=list(ends)).values_list("pk", "total_berths"))
    found = {}
    for pk, end in ends.items():
        (first_at, first_free, first_entries, first_exits) = end["first"]
        (last_at, last_free, last_entries, last_exits) = end["last"]
        if first_free is None or last_free is None:
            continue
        entries, exits = last_entries - first_entries, last_exits - first_exits
        reported = first_free - last_free
        drift = reported - (entries - exits)
        total = totals[pk]
        tolerance = max(rule.threshold, rule.ratio * total)
        if abs(drift) > tolerance:
            found[pk] = {"first_snapshot_at": iso(first_at), "first_free": first_free, "last_snapshot_at": iso(last_at),
                         "last_free": last_free, "snapshots": end["snapshots"], "entries": entries, "exits": exits,
                         "reported_change": reported, "counted_change": entries - exits, "drift": drift,
                         "tolerance": round(tolerance, 1), "total_berths": total}
    return found


def over_capacity(rule: SupervisionRule, *, now: datetime) -> Findings:
    """More vehicles inside (open stays) than the lot has berths, beyond ``threshold`` vehicles or
    ``ratio`` of its total, whichever is larger."""
    inside = ParkingSession.objects.filter(lot=OuterRef("pk"), state__in=ParkingSession.ACTIVE_STATES)
    rows = (_lots().annotate(inside=_count(inside)).filter(inside__gt=F("total_berths"))
            .values_list("pk", "inside", "total_berths"))
    found = {}
    for pk, count, total in rows:
        tolerance = max(rule.threshold, rule.ratio * total)
        if count > total + tolerance:
            found[pk] = {"vehicles_inside": count, "total_berths": total, "excess": count - total,
                         "tolerance": round(tolerance, 1)}
    return found


def orphan_exits(rule: SupervisionRule, *, now: datetime) -> Findings:
    """Of the exits in ``window_minutes`` (at least ``minimum``), a share of ``ratio`` or more had
    no entry the lot ever sent (released for review, nothing charged)."""
    since = now - timedelta(minutes=rule.window_minutes)
    rows = (ParkingSession.objects.filter(exit_at__gte=since, exit_at__lte=now, lot__in=_lots())
            .values("lot_id").annotate(n=Count("pk"), orphans=Count("pk", filter=Q(entry_at__isnull=True)))
            .filter(n__gte=max(1, rule.minimum), orphans__gt=0).order_by())
    return {r["lot_id"]: {"exits": r["n"], "exits_without_entry": r["orphans"],
                          "share": round(r["orphans"] / r["n"], 3)}
            for r in rows if r["orphans"] / r["n"] >= rule.ratio}


def unclosed_entries(rule: SupervisionRule, *, now: datetime) -> Findings:
    """At least ``threshold`` stays still open ``window_minutes`` after their entry, and at least
    ``ratio`` of the lot's berths (both): exits are not being sent."""
    before = now - timedelta(minutes=rule.window_minutes)
    rows = (ParkingSession.objects.filter(state=ParkingSession.State.OPEN, entry_at__lt=before, lot__in=_lots())
            .values("lot_id", "lot__total_berths").annotate(n=Count("pk"), oldest=Min("entry_at"))
            .filter(n__gte=_at_least(rule.threshold)).order_by())
    return {r["lot_id"]: {"open_stays": r["n"], "oldest_entry_at": iso(r["oldest"]), "entered_before": iso(before),
                          "total_berths": r["lot__total_berths"]}
            for r in rows if r["n"] >= rule.ratio * r["lot__total_berths"]}


def frozen_free(rule: SupervisionRule, *, now: datetime) -> Findings:
    """The lot's free count, sampled while online at least ``minimum`` times in ``window_minutes``,
    never moved by more than ``threshold``: a count that is reported but not real."""
    since = now - timedelta(minutes=rule.window_minutes)
    rows = (OccupancySample.objects.filter(at__gte=since, at__lte=now, online=True, lot__in=_lots(),
                                           lot__total_berths__gt=0)
            .values("lot_id").annotate(n=Count("pk"), lo=Min("free_berths"), hi=Max("free_berths"),
                                       first=Min("at"), last=Max("at"))
            .filter(n__gte=max(2, rule.minimum)).order_by())
    return {r["lot_id"]: {"samples": r["n"], "free_min": r["lo"], "free_max": r["hi"],
                          "first_sample_at": iso(r["first"]), "last_sample_at": iso(r["last"])}
            for r in rows if r["hi"] - r["lo"] <= rule.threshold}


DETECTORS: dict[str, Callable[..., Findings]] = {
    rules.OUTAGE: outage,
    rules.OUTAGE_REPEATED: outage_repeated,
    rules.SILENT: silent,
    rules.COUNT_DRIFT: count_drift,
    rules.OVER_CAPACITY: over_capacity,
    rules.ORPHAN_EXITS: orphan_exits,
    rules.UNCLOSED_ENTRIES: unclosed_entries,
    rules.FROZEN_FREE: frozen_free,
}

#: rules that can tell when an episode really ended (else: the run that no longer finds it)
EPISODE_ENDS = {rules.OUTAGE: outage_ended_at}
