"""Rows for the forecast tests: a lot's samples and the hourly summaries the rollup would make of them."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from django.utils import timezone

from apps.analytics.models import LotHour, OccupancySample

STEP = timedelta(minutes=5)


def daily_free(local: datetime, total: int) -> float:
    """A lot that empties by day and fills by night, the same every day."""
    minutes = local.hour * 60 + local.minute
    return total / 2 + total * 0.4 * math.sin(2 * math.pi * minutes / 1440)


def series(kind: str, *, start: datetime, end: datetime, total: int = 100, seed: int = 3) -> dict[datetime, int]:
    """Free berths every five minutes in [start, end): ``daily`` (the daily shape, a lingering
    deviation and jitter) or ``wandering`` (a random walk, no rhythm)."""
    rng = random.Random(seed)
    values: dict[datetime, int] = {}
    deviation, walk, at = 0.0, total / 2, start
    while at < end:
        if kind == "daily":
            deviation = 0.8 * deviation + rng.gauss(0, total * 0.02)
            value = daily_free(timezone.localtime(at), total) + deviation
        else:
            walk = min(total, max(0.0, walk + rng.gauss(0, total * 0.03)))
            value = walk
        values[at] = min(total, max(0, round(value)))
        at += STEP
    return values


def store(lot, values: dict[datetime, int]) -> None:
    """The samples, and a ``LotHour`` per local hour with their mean occupancy."""
    OccupancySample.objects.bulk_create(
        [OccupancySample(lot=lot, at=at, free_berths=free, total_berths=lot.total_berths)
         for at, free in values.items()],
        batch_size=2000)
    hours: dict[datetime, list[int]] = {}
    for at, free in values.items():
        local = timezone.localtime(at)
        hours.setdefault(local.replace(minute=0, second=0, microsecond=0), []).append(lot.total_berths - free)
    LotHour.objects.bulk_create([
        LotHour(lot=lot, hour=hour, weekday=hour.weekday(), hour_of_day=hour.hour, total_berths=lot.total_berths,
                occupied_avg=sum(occupied) / len(occupied), occupied_max=max(occupied), samples=len(occupied))
        for hour, occupied in hours.items()], batch_size=2000)


def on_the_grid(at: datetime) -> datetime:
    """``at`` rounded down to its five-minute mark."""
    return at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)
