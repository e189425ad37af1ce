"""Reads of the summary tables that several callers share."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from .models import LotHour


def lot_hours(*, lot_id: int, start: datetime, end: datetime) -> QuerySet:
    """A lot's hourly summaries for the hours starting in [start, end), oldest first."""
    return (LotHour.objects.filter(lot_id=lot_id, hour__gte=start, hour__lt=end).order_by("hour")
            .values("hour", "total_berths", "occupied_avg", "occupied_max", "samples"))
