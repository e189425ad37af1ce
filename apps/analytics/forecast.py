"""The occupancy forecast (issue 11 item 5): evaluate the model per lot, publish it where it is kept.

- ``forecasts_evaluate(days=N)`` (``manage.py forecast_evaluate``, weekly task) replays the last
  ``N`` complete local days of each lot's samples (``OccupancySample``) against the model fitted on
  what came before them (the weekday-hour profile from ``LotHour``, φ and the trend weight from the
  week before), beside the naive baselines, and stores the errors in ``ForecastEvaluation``. The
  model is kept for a lot only where it beat both baselines at every horizon.
- ``forecasts_refresh()`` (every five minutes) writes ``LotForecast`` for the kept lots from their
  last half hour of samples and their profile around now, and removes every other lot's.
- ``forecast_expression()`` is what the lot API reads, through ``apps.lots.forecasts``: the lot's
  forecast when the lot is kept and the forecast was made in the last ``STALE_AFTER``; otherwise
  NULL. A lot the model does not beat the baselines for gets null, not a baseline's number: SPEC
  allows null, and a baseline already is what the map shows (the count now).

The arithmetic is ``apps.analytics.forecast_model`` (pure). Times are five-minute slots since the
epoch; the local UTC offset is taken once per run (Asia/Shanghai has no summer time).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import (
    Avg,
    DateTimeField,
    Expression,
    ExpressionWrapper,
    F,
    FloatField,
    JSONField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import JSONObject, Now
from django.utils import timezone

from apps.lots.hours import open_at
from apps.lots.models import ParkingLot

from . import forecast_model as model
from .models import ForecastEvaluation, LotForecast, LotHour, OccupancySample

logger = logging.getLogger(__name__)

#: how often the forecasts are rewritten (the beat entry) and when an unrefreshed one stops showing
REFRESH_S = 300
STALE_AFTER = timedelta(minutes=15)
#: the weekday-hour profile is the mean of this many days of hours before the time it serves
HISTORY_DAYS = 28
#: φ and the trend weight are fitted on the week before the held-out days
FIT_DAYS = 7
#: a horizon needs at least this many evaluated points per held-out day (four hours' worth)
MIN_POINTS_PER_DAY = 48
#: the newest sample must be this recent for a forecast to be made from it
NEWEST_SAMPLE_MAX_AGE = timedelta(minutes=10)
#: lots read per query
CHUNK = 200

_STEP_S = model.STEP_MIN * 60


def _slot(at: datetime) -> int:
    return round(at.timestamp() / _STEP_S)


def _slot_time(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * _STEP_S, tz=timezone.get_current_timezone())


def _utc_offset_min(now: datetime) -> int:
    return int(timezone.localtime(now).utcoffset().total_seconds() // 60)


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def forecast_expression() -> Expression:
    """A lot's published forecast as a JSON object, NULL when there is none or it is older than
    ``STALE_AFTER`` (the refresh stopped): part of the lot query that reads it (``OuterRef("pk")``)."""
    fresh_since = ExpressionWrapper(Now() - Value(STALE_AFTER), output_field=DateTimeField())
    forecasts = LotForecast.objects.filter(lot_id=OuterRef("pk"), made_at__gte=fresh_since).values(
        json=JSONObject(in_15_min="in_15_min", in_30_min="in_30_min", in_60_min="in_60_min"))[:1]
    return Subquery(forecasts, output_field=JSONField())


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _profiles(lot_ids: list[int], *, since: datetime, until: datetime,
              hours: Iterable[tuple[int, int]] | None = None) -> dict[int, model.Profile]:
    """Per lot, the mean free count of each (weekday, hour) over its ``LotHour`` rows in [since, until)."""
    rows = LotHour.objects.filter(lot_id__in=lot_ids, hour__gte=since, hour__lt=until, samples__gt=0)
    if hours is not None:
        wanted = Q()
        for weekday, hour in set(hours):
            wanted |= Q(weekday=weekday, hour_of_day=hour)
        rows = rows.filter(wanted)
    means: dict[int, dict[tuple[int, int], float]] = defaultdict(dict)
    for lot_id, weekday, hour, free in (
        rows.values("lot_id", "weekday", "hour_of_day")
        .annotate(free=Avg(F("total_berths") - F("occupied_avg"), output_field=FloatField()))
        .values_list("lot_id", "weekday", "hour_of_day", "free")
    ):
        means[lot_id][(weekday, hour)] = free
    return {lot_id: model.Profile(hours) for lot_id, hours in means.items()}


def _series(lot_ids: list[int], *, since: datetime, until: datetime) -> dict[int, dict[int, int]]:
    """Per lot, its online samples in [since, until) as slot → free berths."""
    series: dict[int, dict[int, int]] = defaultdict(dict)
    rows = OccupancySample.objects.filter(lot_id__in=lot_ids, at__gte=since, at__lt=until, online=True)
    # Read raw, each instant converted once: the lots share their sampling instants, and turning
    # hundreds of thousands of column values into datetimes one by one was most of an evaluation.
    sql, params = rows.values_list("lot_id", "at", "free_berths").query.sql_with_params()
    slots: dict[object, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(5000):
            for lot_id, at, free in chunk:
                try:
                    slot = slots[at]
                except KeyError:
                    slot = slots[at] = _slot(_as_datetime(at))
                series[lot_id][slot] = free
    return series


def _as_datetime(raw) -> datetime:
    """A datetime column's value as the driver gives it: SQLite's text (UTC, USE_TZ), or a datetime."""
    if isinstance(raw, str):
        raw = datetime.fromisoformat(raw)
    return raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------
# Evaluation

@dataclass
class EvaluationSummary:
    """What a run measured: lots evaluated (with enough points), kept, and the errors averaged
    over the evaluated lots per horizon (``mae[horizon][which]``, which = model | now | last_week)."""

    held_out_from: object
    days: int
    lots: int = 0
    evaluated: int = 0
    kept: int = 0
    mae: dict[int, dict[str, float]] = field(default_factory=dict)


def forecasts_evaluate(*, days: int, now: datetime | None = None) -> EvaluationSummary:
    """Evaluate every lot on the ``days`` complete local days before today and store the result;
    lots no longer kept lose their forecast at once."""
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or timezone.now()
    offset = _utc_offset_min(now)
    today = timezone.localdate(now)
    held_from = today - timedelta(days=days)
    held_start, held_end = _local_midnight(held_from), _local_midnight(today)
    fit_start = held_start - timedelta(days=FIT_DAYS)
    eval_slots = range(_slot(held_start), _slot(held_end))
    fit_slots = range(_slot(fit_start), _slot(held_start))
    min_points = MIN_POINTS_PER_DAY * days
    summary = EvaluationSummary(held_out_from=held_from, days=days)
    totals = {h: {"model": 0.0, "now": 0.0, "last_week": 0.0} for h in model.HORIZONS}
    lots = dict(ParkingLot.objects.order_by("pk").values_list("pk", "total_berths"))
    rows = []
    for chunk in _chunks(list(lots)):
        profiles = _profiles(chunk, since=held_start - timedelta(days=HISTORY_DAYS), until=held_start)
        # The week-ago baseline of the first fitted points reaches a week further back.
        series = _series(chunk, since=fit_start - timedelta(days=7, hours=1), until=now)
        for lot_id in chunk:
            total = lots[lot_id]
            profile, lot_series = profiles.get(lot_id), series.get(lot_id, {})
            params, errors = model.Params(), model.Errors()
            if profile is not None and lot_series:
                params = model.fit(lot_series, slots=fit_slots, profile=profile, total=total, utc_offset_min=offset)
                errors = model.evaluate(lot_series, slots=eval_slots, profile=profile, params=params, total=total,
                                        utc_offset_min=offset)
            kept = model.beats_baselines(errors, min_points=min_points)
            rows.append(_evaluation_row(lot_id, now=now, held_from=held_from, days=days, params=params,
                                        errors=errors, kept=kept))
            summary.lots += 1
            if all(errors.points[h] >= min_points for h in model.HORIZONS):
                summary.evaluated += 1
                summary.kept += kept
                for h in model.HORIZONS:
                    for which in totals[h]:
                        totals[h][which] += errors.mae(which, h)
    with transaction.atomic():
        ForecastEvaluation.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["lot"],
            update_fields=[f.name for f in ForecastEvaluation._meta.concrete_fields if f.name not in ("id", "lot")])
        LotForecast.objects.exclude(lot_id__in=ForecastEvaluation.objects.filter(kept=True).values("lot_id")).delete()
    if summary.evaluated:
        summary.mae = {h: {which: value / summary.evaluated for which, value in totals[h].items()}
                       for h in model.HORIZONS}
    logger.info("forecast evaluated on %s+%sd: %s lots, %s with enough points, %s kept",
                held_from, days, summary.lots, summary.evaluated, summary.kept)
    return summary


def forecasts_evaluated(*, days: int, now: datetime | None = None) -> bool:
    """Whether every lot already has an evaluation of the held-out days a run now would use."""
    held_from = timezone.localdate(now or timezone.now()) - timedelta(days=days)
    lots = ParkingLot.objects.count()
    judged = ForecastEvaluation.objects.filter(held_out_from=held_from, held_out_days=days).count()
    return bool(lots) and judged == lots


def forecasts_kept() -> int:
    return ForecastEvaluation.objects.filter(kept=True).count()


def _evaluation_row(lot_id: int, *, now, held_from, days, params: model.Params, errors: model.Errors,
                    kept: bool) -> ForecastEvaluation:
    values = {}
    for h in model.HORIZONS:
        values[f"points_{h}"] = errors.points[h]
        values[f"mae_model_{h}"] = errors.mae("model", h)
        values[f"mae_now_{h}"] = errors.mae("now", h)
        values[f"mae_week_{h}"] = errors.mae("last_week", h)
    return ForecastEvaluation(lot_id=lot_id, evaluated_at=now, held_out_from=held_from, held_out_days=days,
                              decay=params.decay, trend=params.trend, kept=kept, **values)


# ---------------------------------------------------------------------------------------------------
# Refresh

def forecasts_refresh(*, now: datetime | None = None) -> int:
    """Rewrite the forecasts of the kept lots that are open (not closed, and within their opening
    hours now) and online and have a recent sample; every other lot's is removed. Returns how many
    were written. (A lot's forecast after it closes for the night would send a driver to a shut gate.)"""
    now = now or timezone.now()
    offset = _utc_offset_min(now)
    local_time = timezone.localtime(now).time()
    kept = {
        lot_id: (model.Params(decay=decay, trend=trend), total)
        for lot_id, decay, trend, total, hours in ForecastEvaluation.objects.filter(
            kept=True, lot__offline_since__isnull=True).exclude(lot__status=ParkingLot.Status.CLOSED)
        .values_list("lot_id", "decay", "trend", "lot__total_berths", "lot__opening_hours")
        if open_at(hours, local_time) is not False  # text that cannot say leaves the lot in
    }
    window = timedelta(minutes=model.TREND_WINDOW_MIN)
    rows = []
    for chunk in _chunks(sorted(kept)):
        series = _series(chunk, since=now - NEWEST_SAMPLE_MAX_AGE - window, until=now + timedelta(minutes=1))
        newest = {lot_id: max(points) for lot_id, points in series.items() if points}
        newest = {lot_id: slot for lot_id, slot in newest.items()
                  if _slot_time(slot) >= now - NEWEST_SAMPLE_MAX_AGE}
        if not newest:
            continue
        # Only the hours around now are read: from before the trend window to past the farthest
        # horizon, an hour's margin each side for the neighbours a profile is read between.
        first, last = min(newest.values()), max(newest.values())
        hours = {divmod(model.minute_of_week(slot, offset) // 60, 24) for slot in range(
            first - (model.TREND_WINDOW_MIN + 60) // model.STEP_MIN,
            last + (max(model.HORIZONS) + 60) // model.STEP_MIN + 1)}
        profiles = _profiles(list(newest), since=now - timedelta(days=HISTORY_DAYS), until=now, hours=hours)
        for lot_id, now_slot in newest.items():
            profile = profiles.get(lot_id)
            if profile is None:
                continue
            params, total = kept[lot_id]
            predicted = model.predict(recent=list(series[lot_id].items()), now_slot=now_slot, utc_offset_min=offset,
                                      profile=profile, params=params, total=total)
            if predicted is None:
                continue
            rows.append(LotForecast(lot_id=lot_id, made_at=_slot_time(now_slot), in_15_min=predicted[15],
                                    in_30_min=predicted[30], in_60_min=predicted[60]))
    with transaction.atomic():
        LotForecast.objects.exclude(lot_id__in=[row.lot_id for row in rows]).delete()
        LotForecast.objects.bulk_create(rows, update_conflicts=True, unique_fields=["lot"],
                                        update_fields=["made_at", "in_15_min", "in_30_min", "in_60_min"])
    return len(rows)
