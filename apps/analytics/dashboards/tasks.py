"""The rollups as a periodic task: the last complete days, after the lot rollups have run."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .rollup import region_days_refresh_range


@shared_task(name="apps.analytics.dashboards.tasks.region_rollup")
def region_rollup(days: int = 2) -> int:
    """Recompute the last ``days`` complete local days of region rollups and the lots' last four
    weeks (idempotent); returns the region day rows written."""
    yesterday = timezone.localdate() - timedelta(days=1)
    return region_days_refresh_range(start=yesterday - timedelta(days=max(1, days) - 1), end=yesterday)
