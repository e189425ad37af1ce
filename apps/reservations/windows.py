"""A sharing offer's windows as concrete free periods (pure: no ORM, no clock, no settings).

An offer gives a weekday window and a weekend window in local time; a window belongs to the day
it starts on (a Friday's 18:00–08:00 runs into Saturday morning and is a weekday window), an end
before the start wraps past midnight, and a start equal to its end is the whole day. The fee
engine takes the result as ``free_windows`` (SPEC §6 rule 2), so time inside them costs nothing
and time outside is priced as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo

WEEKEND = (5, 6)  # Saturday, Sunday


def _window_on(day: date, start: time | None, end: time | None, tz: tzinfo) -> tuple[datetime, datetime] | None:
    if start is None or end is None:
        return None
    begins = datetime.combine(day, start, tzinfo=tz)
    ends = datetime.combine(day, end, tzinfo=tz)
    if ends <= begins:
        ends += timedelta(days=1)
    return begins, ends


def offer_windows(*, weekday: tuple[time | None, time | None], weekend: tuple[time | None, time | None],
                  start: datetime, end: datetime, tz: tzinfo) -> Iterator[tuple[datetime, datetime]]:
    """The offer's windows that overlap [start, end), clipped to it, earliest first."""
    day = start.astimezone(tz).date() - timedelta(days=1)  # yesterday's window may run into today
    last = end.astimezone(tz).date()
    while day <= last:
        times = weekend if day.weekday() in WEEKEND else weekday
        window = _window_on(day, *times, tz)
        if window is not None and window[0] < end and window[1] > start:
            yield max(window[0], start), min(window[1], end)
        day += timedelta(days=1)
