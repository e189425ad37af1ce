"""A lot's opening hours (``ParkingLot.opening_hours``): ranges of the day such as ``07:00-22:00``,
comma-separated (``07:00-11:30,13:00-22:00``). A range whose end is before its start runs past
midnight (``22:00-06:00``); ``00:00-24:00`` is the whole day. No database: the import, the lot
form, the forecast and the open data read the text one way, and refuse it in one wording."""

from __future__ import annotations

import re
from datetime import time

from django.utils.translation import gettext_lazy as _

#: what the import and the lot form say of text that is not opening hours
FORMAT_MESSAGE = _("格式应为 HH:MM-HH:MM，如 07:00-22:00")

_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")
_SEPARATORS = re.compile(r"[,，;；]")
_DAY = 24 * 60


def opening_ranges(text: str) -> list[tuple[int, int]] | None:
    """The ranges as (first minute, end minute) of the day, end exclusive; None when the text is
    not ranges of that form (so a caller can tell "closed now" from "cannot say")."""
    parts = [part.strip() for part in _SEPARATORS.split(text or "") if part.strip()]
    ranges = []
    for part in parts:
        match = _RANGE.match(part)
        if match is None:
            return None
        start_h, start_m, end_h, end_m, day_h, _day_m = match.groups()
        end = _DAY if day_h else int(end_h) * 60 + int(end_m)
        ranges.append((int(start_h) * 60 + int(start_m), end))
    return ranges or None


def normalized_hours(text: str) -> str | None:
    """The text as it is stored (ranges joined by ","), or None when it is not opening hours."""
    if opening_ranges(text) is None:
        return None
    return ",".join(part.strip() for part in _SEPARATORS.split(text) if part.strip())


def open_at(text: str, at: time) -> bool | None:
    """Is a lot with these opening hours open at local time ``at``? None when the text cannot say."""
    ranges = opening_ranges(text)
    if ranges is None:
        return None
    minute = at.hour * 60 + at.minute
    for start, end in ranges:
        if start == end:  # "08:00-08:00": round the clock, as a range that ends where it begins
            return True
        if start < end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):  # past midnight
            return True
    return False
