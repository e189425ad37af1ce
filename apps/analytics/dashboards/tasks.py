"""The region rollups as a periodic task: yesterday and today, after the lot rollups have run."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .rollup import region_days_refresh_range


@shared_task(name="apps.analytics.dashboards.tasks.region_rollup")
def region_rollup(days: int = 2) -> int:
    """Recompute the last ``days`` local days of region rollups (idempotent); returns the rows written."""
    today = timezone.localdate()
    return region_days_refresh_range(start=today - timedelta(days=max(1, days) - 1), end=today)
