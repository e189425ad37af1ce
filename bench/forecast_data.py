"""A seeded synthetic month of occupancy for the forecast benchmark (bench/forecast.py) and its tests.

Most lots follow a weekday-hour profile of their kind (an office garage full on working days, a
mall busiest at weekend afternoons, a hospital busy every morning, a residential lot full at night),
each scaled by a day's own level (±6 %), with a slow deviation that persists for a while (AR(1) at
five minutes) and the jitter of cars coming and going. The rest are irregular: no weekly rhythm at
all, a count that wanders (a random walk) with sudden jumps (an event, a closed road), the kind of
lot whose history should not be trusted to say where it is going.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from apps.analytics.forecast_model import STEP_MIN, minute_of_week

KINDS = ("office", "mall", "hospital", "residential")
DAY_SLOTS = 24 * 60 // STEP_MIN


@dataclass
class SyntheticLot:
    index: int
    kind: str  # one of KINDS, or "irregular"
    total: int
    series: dict[int, int]  # slot → free berths


def _share_busy(kind: str, weekday: int, hour: float) -> float:
    """The usual occupied share of a lot of this kind at that local time (0..1)."""
    workday = weekday < 5
    bump = lambda centre, width: math.exp(-((hour - centre) / width) ** 2)  # noqa: E731
    if kind == "office":
        return 0.1 + (0.8 * (bump(11, 2.5) + bump(15, 2.5)) / 1.2 if workday else 0.1 * bump(14, 3))
    if kind == "mall":
        return 0.05 + (0.5 if workday else 0.85) * (0.6 * bump(13, 2) + bump(19, 2.2)) / 1.1
    if kind == "hospital":
        return 0.1 + (0.85 if workday else 0.5) * (bump(9.5, 1.8) + 0.6 * bump(14.5, 1.5)) / 1.05
    return 0.35 + 0.55 * (bump(2, 5) + bump(26, 5)) - (0.2 * bump(13, 3) if workday else 0.0)


def generate(*, seed: int, lots: int, days: int, start_slot: int, utc_offset_min: int = 480,
             irregular_share: float = 0.25, totals: list[int] | None = None) -> list[SyntheticLot]:
    """``lots`` lots' free counts every five minutes for ``days`` days from ``start_slot``; their sizes
    are ``totals`` (the real lots' berths) or drawn."""
    rng = random.Random(seed)
    generated = []
    irregular = max(1, round(lots * irregular_share))
    for index in range(lots):
        kind = "irregular" if index < irregular else KINDS[index % len(KINDS)]
        total = rng.choice((40, 60, 80, 120, 200, 300, 500)) if totals is None else totals[index]
        series: dict[int, int] = {}
        if kind == "irregular":
            occupied = total * rng.uniform(0.3, 0.7)
            for slot in range(start_slot, start_slot + days * DAY_SLOTS):
                occupied += rng.gauss(0, total * 0.03)
                if rng.random() < 0.004:  # an event starts or ends: a jump
                    occupied += rng.choice((-1, 1)) * total * rng.uniform(0.2, 0.4)
                occupied = min(total, max(0.0, occupied))
                series[slot] = total - round(occupied)
        else:
            deviation = velocity = 0.0
            level = 1.0
            # Every other lot's deviation builds and ebbs smoothly (a queue forming, a shift
            # arriving): there the recent slope says something about the next half hour.
            smooth = index % 2 == 0
            for slot in range(start_slot, start_slot + days * DAY_SLOTS):
                if (slot - start_slot) % DAY_SLOTS == 0:
                    level = rng.gauss(1.0, 0.06)
                minute = minute_of_week(slot, utc_offset_min)
                weekday, minute_of_day = divmod(minute, 24 * 60)
                if smooth:
                    velocity = 0.85 * velocity + rng.gauss(0, total * 0.004)
                    deviation = 0.97 * deviation + velocity
                else:
                    deviation = 0.9 * deviation + rng.gauss(0, total * 0.015)
                occupied = total * _share_busy(kind, weekday, minute_of_day / 60) * level + deviation
                occupied += rng.gauss(0, max(1.0, total * 0.01))
                series[slot] = total - min(total, max(0, round(occupied)))
        generated.append(SyntheticLot(index=index, kind=kind, total=total, series=series))
    return generated


def hourly_profile_rows(lot: SyntheticLot, *, utc_offset_min: int = 480) -> list[tuple[int, int, int, float, int]]:
    """What the hourly rollup would write for the lot: (first slot of the hour, weekday, hour of day,
    mean occupied, samples) per local hour that has samples."""
    hours: dict[int, list[int]] = {}
    for slot, free in lot.series.items():
        hour_start = slot - (minute_of_week(slot, utc_offset_min) % 60) // STEP_MIN
        hours.setdefault(hour_start, []).append(lot.total - free)
    rows = []
    for hour_start, occupied in sorted(hours.items()):
        minute = minute_of_week(hour_start, utc_offset_min)
        weekday, minute_of_day = divmod(minute, 24 * 60)
        rows.append((hour_start, weekday, minute_of_day // 60, sum(occupied) / len(occupied), len(occupied)))
    return rows
