"""Periodic berth work, run by Celery beat or ``manage.py run_scheduler`` (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="apps.berths.tasks.settle_berths")
def settle_berths() -> int:
    """Apply sensor changes that have held through the debounce time; returns how many lots moved."""
    return len(services.berths_settle(now=timezone.now()))
