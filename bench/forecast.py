"""The occupancy forecast against its naive baselines (issue 11 item 5), on a seeded synthetic month.

For each seed: ``lots`` of the benchmark city's lots (their own sizes) get a month of five-minute samples and the
hourly summaries the rollup would make of them (``bench.forecast_data``: weekday-hour profiles,
day levels, lingering deviations and jitter, a quarter of the lots irregular), loaded with COPY;
then the real evaluation (``apps.analytics.forecast.forecasts_evaluate``, what
``manage.py forecast_evaluate --days 7`` runs) replays the last ``held_out_days`` days. Measured:
the mean absolute error per horizon of the model and of each baseline (the count now; last week's
count at the target time), averaged over the lots, how many lots kept the model (and how many of
them are irregular ones), and the evaluation's own time. Seeds differ in every random draw; the
spread across them is the figure's uncertainty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from .forecast_data import DAY_SLOTS, generate, hourly_profile_rows

HORIZONS = (15, 30, 60)


@dataclass
class SeedResult:
    seed: int
    lots: int
    irregular: int
    kept: int
    kept_irregular: int
    samples: int
    seconds: float  # the evaluation alone
    # mae[horizon] = (model, now, last_week), each the mean over the lots evaluated, in berths
    mae: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    # the same over the kept lots only: what the map shows where it shows a forecast
    mae_kept: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    # the same as a share of each lot's berths (%), so that a 1,000-berth garage does not outweigh the rest
    share: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    share_kept: dict[int, tuple[float, float, float]] = field(default_factory=dict)


@dataclass
class ForecastResult:
    days: int
    held_out_days: int
    seeds: list[SeedResult]


def _load(lots, synthetic, *, offset_min: int) -> int:
    from apps.analytics.models import ForecastEvaluation, LotForecast, LotHour, OccupancySample

    ids = [lot.pk for lot in lots]
    tz = timezone.get_current_timezone()
    with transaction.atomic():
        for model in (OccupancySample, LotHour, ForecastEvaluation, LotForecast):
            model.objects.filter(lot_id__in=ids).delete()
        rows = 0
        with connection.cursor() as cursor:
            with cursor.cursor.copy("COPY analytics_occupancysample (lot_id, at, free_berths, total_berths, online) "
                                    "FROM STDIN") as copy:
                for lot, generated in zip(lots, synthetic, strict=True):
                    for slot, free in generated.series.items():
                        copy.write_row((lot.pk, datetime.fromtimestamp(slot * 300, tz), free, generated.total, True))
                        rows += 1
            with cursor.cursor.copy("COPY analytics_lothour (lot_id, hour, weekday, hour_of_day, total_berths, "
                                    "occupied_avg, occupied_max, samples, entries, exits) FROM STDIN") as copy:
                for lot, generated in zip(lots, synthetic, strict=True):
                    for hour_slot, weekday, hour, occupied, samples in hourly_profile_rows(
                            generated, utc_offset_min=offset_min):
                        copy.write_row((lot.pk, datetime.fromtimestamp(hour_slot * 300, tz), weekday, hour,
                                        generated.total, occupied, round(occupied), samples, 0, 0))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE analytics_occupancysample")
        cursor.execute("ANALYZE analytics_lothour")
    return rows


def _means(rows, horizon: int, totals: dict[int, int] | None = None) -> tuple[float, float, float]:
    """The mean MAE of the model, the count now and last week over ``rows``; with ``totals``, each
    lot's as a percentage of its berths first."""
    measured = [row for row in rows if getattr(row, f"mae_model_{horizon}") is not None]
    if not measured:
        return (float("nan"),) * 3
    scale = (lambda row: 100 / totals[row.lot_id]) if totals else (lambda row: 1.0)
    return tuple(sum(getattr(row, f"mae_{which}_{horizon}") * scale(row) for row in measured) / len(measured)
                 for which in ("model", "now", "week"))


def run(env=None, servers=None, *, lots: int = 40, days: int = 30, held_out_days: int = 7,
        seeds: tuple[int, ...] = (1, 2, 3), say=print) -> ForecastResult:
    from apps.analytics.forecast import forecasts_evaluate
    from apps.analytics.models import ForecastEvaluation
    from apps.lots.models import ParkingLot

    chosen = list(ParkingLot.objects.order_by("code")[:lots])
    if len(chosen) < lots:
        raise ValueError(f"the forecast benchmark needs {lots} lots, the database has {len(chosen)}")
    now = timezone.localtime().replace(hour=0, minute=30, second=0, microsecond=0)
    offset_min = int(now.utcoffset().total_seconds() // 60)
    today_start = now.replace(minute=0)
    start_slot = round((today_start - timedelta(days=days)).timestamp() / 300)
    assert start_slot % DAY_SLOTS == (-offset_min // 5) % DAY_SLOTS  # a local midnight
    results = []
    for seed in seeds:
        synthetic = generate(seed=seed, lots=lots, days=days, start_slot=start_slot, utc_offset_min=offset_min,
                             totals=[lot.total_berths for lot in chosen])
        loaded = time.monotonic()
        samples = _load(chosen, synthetic, offset_min=offset_min)
        say(f"forecast seed {seed}: {samples:,} samples of {lots} lots loaded in {time.monotonic() - loaded:.0f} s")
        started = time.monotonic()
        forecasts_evaluate(days=held_out_days, now=now)
        seconds = time.monotonic() - started
        rows = list(ForecastEvaluation.objects.filter(lot__in=chosen))
        irregular_ids = {lot.pk for lot, generated in zip(chosen, synthetic, strict=True)
                         if generated.kind == "irregular"}
        kept = [row for row in rows if row.kept]
        totals = {lot.pk: lot.total_berths for lot in chosen}
        result = SeedResult(
            seed=seed, lots=lots, irregular=len(irregular_ids), kept=len(kept),
            kept_irregular=sum(row.lot_id in irregular_ids for row in kept), samples=samples, seconds=seconds,
            mae={h: _means(rows, h) for h in HORIZONS}, mae_kept={h: _means(kept, h) for h in HORIZONS},
            share={h: _means(rows, h, totals) for h in HORIZONS},
            share_kept={h: _means(kept, h, totals) for h in HORIZONS})
        say(f"forecast seed {seed}: {result.kept}/{lots} lots kept ({result.kept_irregular} irregular), "
            + "; ".join(f"{h} min MAE {m[0]:.2f} vs now {m[1]:.2f}, last week {m[2]:.2f}"
                        for h, m in result.mae.items()) + f" (evaluated in {seconds:.1f} s)")
        results.append(result)
    return ForecastResult(days=days, held_out_days=held_out_days, seeds=results)
