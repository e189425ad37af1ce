"""Reading a time a client sent (SPEC §1: ISO 8601 with an offset), the one way every face does it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

# An unencoded "+" in a query string arrives as a space: "…09:42:44 08:00".
_SPACE_BEFORE_OFFSET = re.compile(r" (\d{2}:?\d{2})$")


class TimeInvalid(ValueError):
    """Why a text is not a usable time: ``reason`` is ``invalid`` (not a time at all, or a date or an
    offset no calendar has), ``naive`` (no offset) or ``out_of_range`` (no UTC equivalent: it could be
    neither compared nor stored)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_aware(text: str) -> datetime:
    """The aware datetime ``text`` names; ``TimeInvalid`` for anything else, never another error."""
    try:
        parsed = parse_datetime(_SPACE_BEFORE_OFFSET.sub(r"+\1", text.strip()))
    except ValueError:  # well formed, but month 13 or an offset of 99 hours
        parsed = None
    if parsed is None:
        raise TimeInvalid("invalid")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimeInvalid("naive")
    try:
        parsed.astimezone(UTC)  # 0001-01-01T00:00+08:00 has no UTC equivalent to compute or store
    except OverflowError:
        raise TimeInvalid("out_of_range") from None
    return parsed
