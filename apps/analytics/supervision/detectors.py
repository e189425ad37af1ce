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
from django.db.models import Avg, Count, Exists, F, IntegerField, Max, Min, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
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
def silent(rule: SupervisionRule, *, now: datetime) -> Findings:
    """The lot is heard (online, no outage in the window) but has sent no entry or exit for
    ``window_minutes``, while it is open and, by its own ``LotHour`` history at this hour of the
    day over ``history_days``, normally sees at least ``threshold`` entries and exits an hour
    (with at least ``minimum`` such hours of history)."""
    since = now - timedelta(minutes=rule.window_minutes)
    local = timezone.localtime(now)
    hour_start = local.replace(minute=0, second=0, microsecond=0)
    history = LotHour.objects.filter(lot=OuterRef("pk"), hour_of_day=local.hour,
                                     hour__gte=hour_start - timedelta(days=rule.history_days), hour__lt=hour_start)
    normal = Subquery(history.order_by().values("lot").annotate(v=Avg(F("entries") + F("exits"))).values("v")[:1])
    heard_since = now - timedelta(seconds=settings.LOT_OFFLINE_AFTER_S)
    moves = IngestEvent.objects.filter(lot=OuterRef("pk"), type__in=MOVES, occurred_at__gte=since)
    down = LotOutage.objects.filter(lot=OuterRef("pk")).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
    heard = IngestEvent.objects.filter(lot=OuterRef("pk"), received_at__gte=since)
    devices = Device.objects.filter(lots=OuterRef("pk"), revoked_at__isnull=True, last_seen_at__gte=heard_since)
    rows = (_lots().filter(offline_since__isnull=True, last_seen_at__gte=heard_since)
            .annotate(normal=normal, history_hours=_count(history))
            .filter(normal__gte=rule.threshold, history_hours__gte=rule.minimum)
            .filter(~Exists(moves), ~Exists(down))
            .annotate(events=_count(heard), devices_heard=_count(devices, group="lots"))
            .values_list("pk", "opening_hours", "normal", "history_hours", "events", "devices_heard", "last_seen_at"))
    return {pk: {"normal_moves_per_hour": round(normal, 1), "history_hours": hours, "hour_of_day": local.hour,
                 "moves_in_window": 0, "silent_since": iso(since), "events_in_window": events,
                 "devices_heard": devices_heard, "last_seen_at": iso(last_seen)}
            for pk, hours_text, normal, hours, events, devices_heard, last_seen in rows
            if is_open_at(hours_text, now)}


# -- counts ---------------------------------------------------------------------------------------
def count_drift(rule: SupervisionRule, *, now: datetime) -> Findings:
    """Between the lot's first and last ``lot_status`` snapshot in ``window_minutes``, the change
    its own snapshots report (free before − free after) differs from its entries − exits by more
    than the tolerance: ``threshold`` berths or ``ratio`` of its total, whichever is larger."""
    since = now - timedelta(minutes=rule.window_minutes)
    snaps = IngestEvent.objects.filter(lot=OuterRef("pk"), type=EventType.LOT_STATUS, occurred_at__gte=since,
                                       occurred_at__lte=now)
    free = snaps.annotate(v=Cast(KT("payload__free_berths"), IntegerField()))
    first, last = free.order_by("occurred_at", "pk"), free.order_by("-occurred_at", "-pk")
    between = IngestEvent.objects.filter(lot=OuterRef("pk"), occurred_at__gt=OuterRef("first_at"),
                                         occurred_at__lte=OuterRef("last_at"))
    rows = (_lots().filter(snapshot_at__gte=since)
            .annotate(snapshots=_count(snaps))
            .filter(snapshots__gte=max(2, rule.minimum))
            .annotate(first_at=Subquery(first.values("occurred_at")[:1]), first_free=Subquery(first.values("v")[:1]),
                      last_at=Subquery(last.values("occurred_at")[:1]), last_free=Subquery(last.values("v")[:1]))
            .annotate(entries=_count(between.filter(type=EventType.ENTRY)),
                      exits=_count(between.filter(type=EventType.EXIT)))
            .values_list("pk", "total_berths", "snapshots", "first_at", "first_free", "last_at", "last_free",
                         "entries", "exits"))
    found = {}
    for pk, total, snapshots, first_at, first_free, last_at, last_free, entries, exits in rows:
        if first_free is None or last_free is None:
            continue
        reported = first_free - last_free
        drift = reported - (entries - exits)
        tolerance = max(rule.threshold, rule.ratio * total)
        if abs(drift) > tolerance:
            found[pk] = {"first_snapshot_at": iso(first_at), "first_free": first_free, "last_snapshot_at": iso(last_at),
                         "last_free": last_free, "snapshots": snapshots, "entries": entries, "exits": exits,
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
