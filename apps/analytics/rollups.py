"""Filling the summary tables (issue 11 item 3): samples of the live counters, hourly and daily rollups.

Every rollup recomputes whole hours or whole days from the raw rows, set-based (one grouped query per
chunk of hours, not a query per lot) and replaces what was there in one transaction, so a re-run, a
late event or an overlap between two runs never counts anything twice. Local hours and days are
Wuxi's (Asia/Shanghai); no database time-zone function is used, so SQLite and PostgreSQL agree.

What the columns mean:

- occupancy (``LotHour.occupied_*``, ``samples``) comes from the samples taken while the lot was
  online: an offline lot's count is stale, so its samples say nothing about occupancy;
- ``entries`` / ``exits``: stays whose ``entry_at`` / ``exit_at`` falls in the hour or day;
  ``sessions_closed``: stays closed (``state`` closed) that day, for turnover;
- money of a day: ``billed_fen`` is what the stays that exited that day cost (``amount_fen`` is fixed
  at the first priced exit); the rest is the money ledger (``SessionMoneyEntry``) booked that day:
  ``paid_fen`` payments less refunds (never below 0), ``waived_fen`` waivers, ``arrears_new_fen`` dues
  turned into arrears, ``arrears_recovered_fen`` arrears paid;
- ``online_minutes``: the day's minutes (up to now, for today) not inside a ``LotOutage``;
- ``peak_ratio``: the day's highest hourly average occupancy over the berths; ``hours_over_90``: the
  hours whose average occupancy was at least 90 % of the berths.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, IntegerField, Max, Min, Q, Sum, Value, When
from django.utils import timezone

from apps.lots.fees import SHANGHAI
from apps.lots.models import LotOutage, ParkingLot
from apps.sessions.models import ParkingSession, SessionMoneyEntry

from .models import LotDay, LotHour, OccupancySample

__all__ = [
    "day_bounds",
    "hour_floor",
    "hour_starts",
    "insert_rows",
    "local_day",
    "purge_samples",
    "roll_up_days",
    "roll_up_hours",
    "roll_up_range",
    "sample_instant",
    "take_samples",
]

HOUR = timedelta(hours=1)
DAY_MINUTES = 24 * 60
OVER_90 = 0.9
_CHUNK_HOURS = 24  # hours grouped by one query: a CASE of 24 branches buckets them without a time-zone function
Kind = SessionMoneyEntry.Kind


# --- time ------------------------------------------------------------------------------------

def sample_minutes() -> int:
    return int(getattr(settings, "ANALYTICS_SAMPLE_MINUTES", 5))


def sample_instant(now: datetime) -> datetime:
    """The sampling instant ``now`` belongs to: local time floored to ``ANALYTICS_SAMPLE_MINUTES``."""
    local = now.astimezone(SHANGHAI)
    step = sample_minutes()
    return local.replace(minute=local.minute - local.minute % step, second=0, microsecond=0)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)


def hour_starts(start: datetime, end: datetime) -> list[datetime]:
    """The local clock hours that start in [floor(start), end). Arithmetic in UTC, so an hour is
    always 60 minutes whatever the zone's rules."""
    first = hour_floor(start)
    hours, at = [], first
    while at < end:
        hours.append(at)
        at = (at.astimezone(UTC) + HOUR).astimezone(SHANGHAI)
    return hours


def local_day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def _db_time(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Many rows in one ``executemany``: the rollups and the demo history write hundreds of thousands of
    plain rows, and building a model instance for each would cost more than computing it. Datetimes
    must already be adapted (``connection.ops.adapt_datetimefield_value``)."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    marks = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})", rows)  # noqa: S608


# --- samples ---------------------------------------------------------------------------------

def take_samples(now: datetime | None = None) -> int:
    """Every lot's live count at the sampling instant of ``now``, in one INSERT … SELECT. A second run
    for the same instant inserts nothing (the (lot, at) pair is unique). Returns the rows inserted."""
    at = sample_instant(now or timezone.now())
    quote = connection.ops.quote_name
    sample, lot = OccupancySample._meta, ParkingLot._meta
    column = {name: quote(sample.get_field(name).column) for name in ("lot", "at", "free_berths", "total_berths",
                                                                       "online")}
    # "WHERE 1 = 1": SQLite needs a WHERE before ON CONFLICT in an INSERT … SELECT (else it reads a join).
    sql = (
        f"INSERT INTO {quote(sample.db_table)} ({column['lot']}, {column['at']}, {column['free_berths']}, "  # noqa: S608
        f"{column['total_berths']}, {column['online']}) "
        f"SELECT {quote('id')}, %s, {quote('free_berths')}, {quote('total_berths')}, "
        f"CASE WHEN {quote('offline_since')} IS NULL THEN %s ELSE %s END "
        f"FROM {quote(lot.db_table)} WHERE 1 = 1 "
        f"ON CONFLICT ({column['lot']}, {column['at']}) DO NOTHING"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [_db_time(at), True, False])
        return max(cursor.rowcount, 0)


def purge_samples(now: datetime | None = None) -> int:
    """Drop samples older than ``ANALYTICS_SAMPLE_RETENTION_DAYS``: the hourly rollups keep their story."""
    days = int(getattr(settings, "ANALYTICS_SAMPLE_RETENTION_DAYS", 35))
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = OccupancySample.objects.filter(at__lt=cutoff).delete()
    return deleted


# --- hours -----------------------------------------------------------------------------------

def _bucket(field: str, hours: list[datetime]) -> Case:
    """The index in ``hours`` of the hour ``field`` falls in (the caller filters to their span)."""
    return Case(*[When(**{f"{field}__lt": hour + HOUR}, then=Value(i)) for i, hour in enumerate(hours)],
                default=Value(len(hours)), output_field=IntegerField())


def _counted_by_hour(field: str, hours: list[datetime]) -> dict[tuple[int, int], int]:
    rows = (ParkingSession.objects.filter(**{f"{field}__gte": hours[0], f"{field}__lt": hours[-1] + HOUR})
            .annotate(bucket=_bucket(field, hours)).order_by().values("lot_id", "bucket")
            .annotate(n=Count("id")).values_list("lot_id", "bucket", "n"))
    return {(lot_id, bucket): n for lot_id, bucket, n in rows}


def _hour_rows(hours: list[datetime], totals: dict[int, int]) -> list[tuple]:
    occupied = F("total_berths") - F("free_berths")
    samples = (OccupancySample.objects.filter(at__gte=hours[0], at__lt=hours[-1] + HOUR)
               .annotate(bucket=_bucket("at", hours)).order_by().values("lot_id", "bucket")
               .annotate(total=Max("total_berths"),
                         avg=Sum(occupied, filter=Q(online=True), output_field=FloatField()),
                         top=Max(occupied, filter=Q(online=True)),
                         n=Count("id", filter=Q(online=True)))
               .values_list("lot_id", "bucket", "total", "avg", "top", "n"))
    by_key = {(lot_id, bucket): (total, float(s or 0) / n if n else 0.0, top or 0, n)
              for lot_id, bucket, total, s, top, n in samples}
    entries = _counted_by_hour("entry_at", hours)
    exits = _counted_by_hour("exit_at", hours)
    keys = sorted(set(by_key) | set(entries) | set(exits), key=lambda key: (key[1], key[0]))
    rows = []
    at = [(_db_time(hour), hour.weekday(), hour.hour) for hour in hours]
    for lot_id, bucket in keys:
        if lot_id not in totals:
            continue  # the lot was deleted meanwhile
        total, avg, top, n = by_key.get((lot_id, bucket), (totals[lot_id], 0.0, 0, 0))
        rows.append((lot_id, *at[bucket], total, avg, top, n,
                     entries.get((lot_id, bucket), 0), exits.get((lot_id, bucket), 0)))
    return rows


_HOUR_FIELDS = ("lot", "hour", "weekday", "hour_of_day", "total_berths", "occupied_avg", "occupied_max", "samples",
                "entries", "exits")


def roll_up_hours(start: datetime, end: datetime) -> int:
    """Recompute every lot's ``LotHour`` for the local hours starting in [floor(start), end): the
    rows of those hours are replaced whole. A lot gets a row for an hour with a sample or a stay
    starting or ending in it. Returns the rows written."""
    hours = hour_starts(start, end)
    if not hours:
        return 0
    totals = dict(ParkingLot.objects.values_list("id", "total_berths"))
    written = 0
    with transaction.atomic():
        LotHour.objects.filter(hour__gte=hours[0], hour__lt=hours[-1] + HOUR).delete()
        for i in range(0, len(hours), _CHUNK_HOURS):
            rows = _hour_rows(hours[i:i + _CHUNK_HOURS], totals)
            insert_rows(LotHour, _HOUR_FIELDS, rows)
            written += len(rows)
    return written


# --- days ------------------------------------------------------------------------------------

def _online_minutes(lot_ids: Iterable[int], start: datetime, end: datetime) -> dict[int, int]:
    """Minutes of [start, end) each lot was not inside an outage (an open outage lasts until ``end``)."""
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    outages = LotOutage.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end)
    for lot_id, began, ended in outages.values_list("lot_id", "started_at", "ended_at"):
        spans[lot_id].append((max(began, start), min(ended or end, end)))
    length = (end - start).total_seconds()
    online = {}
    for lot_id in lot_ids:
        offline, reach = 0.0, start
        for began, ended in sorted(spans.get(lot_id, ())):
            began = max(began, reach)  # outages of a lot should not overlap; if they do, count once
            if ended > began:
                offline += (ended - began).total_seconds()
                reach = ended
        online[lot_id] = int((length - offline) // 60)
    return online


def _by_lot(queryset, **aggregates) -> dict[int, dict]:
    return {row.pop("lot_id"): row for row in queryset.order_by().values("lot_id").annotate(**aggregates)}


def _day_rows(day: date, now: datetime) -> list[LotDay]:
    start, end = day_bounds(day)
    counted_until = min(end, max(now, start))
    hours = _by_lot(
        LotHour.objects.filter(hour__gte=start, hour__lt=end),
        total=Max("total_berths"),
        weighted=Sum(F("occupied_avg") * F("samples"), output_field=FloatField()),
        sampled=Sum("samples"),
        peak=Max(Case(When(samples__gt=0, total_berths__gt=0,
                           then=F("occupied_avg") / F("total_berths")), default=Value(0.0), output_field=FloatField())),
        over=Count("id", filter=Q(samples__gt=0, total_berths__gt=0, occupied_avg__gte=F("total_berths") * OVER_90)),
    )
    sessions = ParkingSession.objects
    entries = _by_lot(sessions.filter(entry_at__gte=start, entry_at__lt=end), n=Count("id"))
    exits = _by_lot(sessions.filter(exit_at__gte=start, exit_at__lt=end), n=Count("id"), billed=Sum("amount_fen"))
    closed = _by_lot(sessions.filter(closed_at__gte=start, closed_at__lt=end, state=ParkingSession.State.CLOSED),
                     n=Count("id"))
    money: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ledger = (SessionMoneyEntry.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
              .values_list("session__lot_id", "kind").annotate(fen=Sum("amount_fen")))
    for lot_id, kind, fen in ledger:
        money[lot_id][kind] += fen

    active = set(hours) | set(entries) | set(exits) | set(closed) | set(money)
    lots = {lot["id"]: lot for lot in ParkingLot.objects.filter(Q(created_at__lt=end) | Q(id__in=active))
            .values("id", "region_id", "operator_id", "total_berths")}
    online = _online_minutes(lots, start, counted_until)
    rows = []
    for lot_id, lot in sorted(lots.items()):
        hour = hours.get(lot_id, {})
        cash = money.get(lot_id, {})
        rows.append(LotDay(
            lot_id=lot_id, day=day, region_id=lot["region_id"], operator_id=lot["operator_id"],
            total_berths=hour.get("total") or lot["total_berths"],
            entries=entries.get(lot_id, {}).get("n", 0),
            exits=exits.get(lot_id, {}).get("n", 0),
            sessions_closed=closed.get(lot_id, {}).get("n", 0),
            occupied_avg=float(hour["weighted"] or 0) / hour["sampled"] if hour.get("sampled") else 0.0,
            peak_ratio=float(hour.get("peak") or 0.0),
            hours_over_90=hour.get("over", 0),
            online_minutes=online[lot_id],
            billed_fen=exits.get(lot_id, {}).get("billed") or 0,
            paid_fen=max(cash.get(Kind.PAYMENT, 0) - cash.get(Kind.REFUND, 0), 0),
            waived_fen=cash.get(Kind.WAIVER, 0),
            arrears_new_fen=cash.get(Kind.ARREARS, 0),
            arrears_recovered_fen=cash.get(Kind.ARREARS_PAYMENT, 0),
        ))
    return rows


def roll_up_days(day: date, *, now: datetime | None = None) -> int:
    """Recompute every lot's ``LotDay`` for the local ``day`` from its ``LotHour`` rows (which must be
    rolled first: ``roll_up_range`` does both), its stays, its money ledger and its outages; the day's
    rows are replaced whole. Every lot that existed by the end of the day, or had anything happen in
    it, gets a row. Returns the rows."""
    rows = _day_rows(day, now or timezone.now())
    with transaction.atomic():
        LotDay.objects.filter(day=day).delete()
        LotDay.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def roll_up_range(first: date, last: date, *, now: datetime | None = None) -> tuple[int, int]:
    """Backfill: the hours, then the days, of the local days ``first`` to ``last`` (inclusive). Hours
    after ``now`` are not rolled (they have not happened). Returns (hour rows, day rows)."""
    now = now or timezone.now()
    if last < first:
        return 0, 0
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    hour_rows = roll_up_hours(start, min(end, hour_floor(now) + HOUR))
    day_rows = 0
    day = first
    while day <= last:
        day_rows += roll_up_days(day, now=now)
        day += timedelta(days=1)
    return hour_rows, day_rows


def latest_rolled() -> tuple[datetime | None, date | None]:
    found = LotHour.objects.aggregate(hour=Max("hour"))["hour"]
    return found, LotDay.objects.aggregate(day=Max("day"))["day"]


def earliest_sample() -> datetime | None:
    return OccupancySample.objects.aggregate(at=Min("at"))["at"]
