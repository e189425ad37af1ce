"""Working days and the SLA deadlines computed from them.

China's statutory holidays and make-up working days (调休) come from ``chinese_calendar``; local
days staff add (``LocalDay``) override it; for a year the package does not cover yet, Monday to
Friday are working days. A deadline of D working days is the end of the D-th working day after
the day the ticket was received (the day of receipt does not count, as in the city's rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar
from django.utils import timezone

#: the last moment of a working day that counts towards a deadline
END_OF_DAY = time(23, 59, 59)
#: no SLA spans more than this many calendar days (a year of holidays would be a data error)
MAX_SPAN_DAYS = 400


def national_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package has no schedule for yet
        return day.weekday() < 5


def is_workday(day: date, local: Mapping[date, bool] | None = None) -> bool:
    if local and day in local:
        return local[day]
    return national_workday(day)


def add_working_days(start: date, days: int, local: Mapping[date, bool] | None = None) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself never counts)."""
    current, counted = start, 0
    for _ in range(MAX_SPAN_DAYS):
        if counted == days:
            return current
        current += timedelta(days=1)
        if is_workday(current, local):
            counted += 1
    raise ValueError(f"no {days} working days within {MAX_SPAN_DAYS} days of {start}")


def local_days(start: date, end: date) -> dict[date, bool]:
    from .models import LocalDay

    return dict(LocalDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_workday"))


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    resolve_by: datetime
    warn_at: datetime
    escalate_city_at: datetime


def deadlines(*, received_at: datetime, respond_hours: int, resolve_working_days: int, warn_hours: int,
              city_after_hours: int) -> Deadlines:
    """The snapshot stored on a ticket when it is categorised."""
    local_received = timezone.localtime(received_at)
    start = local_received.date()
    local = local_days(start, start + timedelta(days=MAX_SPAN_DAYS))
    due_day = add_working_days(start, resolve_working_days, local)
    resolve_by = timezone.make_aware(datetime.combine(due_day, END_OF_DAY))
    respond_by = received_at + timedelta(hours=respond_hours)
    return Deadlines(
        respond_by=respond_by,
        resolve_by=resolve_by,
        warn_at=max(received_at, resolve_by - timedelta(hours=warn_hours)),
        escalate_city_at=resolve_by + timedelta(hours=city_after_hours),
    )
