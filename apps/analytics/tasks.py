"""Periodic analytics work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the same
functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both).

The rollup tasks catch up on runs they missed (the scheduler was down, the machine asleep) from the
newest row already rolled, but never further back than ``ANALYTICS_CATCHUP_HOURS`` / ``_DAYS``: a long
gap is for ``manage.py analytics_rollup``, not for a periodic task that must stay short.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import export, forecast, rollups
from .supervision.tasks import supervise_data_quality  # found by autodiscover_tasks through this module

__all__ = ["evaluate_forecasts", "export_open_data", "purge_samples", "refresh_forecasts", "roll_up_days",
           "roll_up_hours", "supervise_data_quality", "take_samples"]

# Hours rolled again on every run although rolled before: events arrive late and out of order.
REROLL_HOURS = 2


def _catchup_hours() -> int:
    return int(getattr(settings, "ANALYTICS_CATCHUP_HOURS", 48))


def _catchup_days() -> int:
    return int(getattr(settings, "ANALYTICS_CATCHUP_DAYS", 7))


@shared_task(name="apps.analytics.tasks.take_samples")
def take_samples() -> int:
    """Every lot's live count, once a sampling interval; returns the rows inserted."""
    return rollups.take_samples(timezone.now())


@shared_task(name="apps.analytics.tasks.roll_up_hours")
def roll_up_hours() -> int:
    """The last complete hours (again), and any missed since the newest rolled hour, bounded."""
    now = timezone.now()
    end = rollups.hour_floor(now)
    start = end - timedelta(hours=REROLL_HOURS)
    latest, _day = rollups.latest_rolled()
    if latest is None or latest + rollups.HOUR < start:
        start = latest + rollups.HOUR if latest is not None else end - timedelta(hours=_catchup_hours())
    start = max(start, end - timedelta(hours=_catchup_hours()))
    return rollups.roll_up_hours(start, end)


@shared_task(name="apps.analytics.tasks.roll_up_days")
def roll_up_days() -> int:
    """Yesterday (again: late money and events), and the days missed since the newest rolled day,
    bounded; a day's hours are rolled first. Returns the day rows written."""
    now = timezone.now()
    yesterday = rollups.local_day(now) - timedelta(days=1)
    _hour, latest = rollups.latest_rolled()
    first = yesterday if latest is None else min(yesterday, latest + timedelta(days=1))
    first = max(first, yesterday - timedelta(days=_catchup_days() - 1))
    return rollups.roll_up_range(first, yesterday, now=now)[1]


@shared_task(name="apps.analytics.tasks.purge_samples")
def purge_samples() -> int:
    return rollups.purge_samples(timezone.now())


@shared_task(name="apps.analytics.tasks.export_open_data")
def export_open_data() -> str:
    """Yesterday's open-data folder, once: a folder already written is left alone."""
    day = rollups.local_day(timezone.now()) - timedelta(days=1)
    folder = export.export_folder(day)
    if (folder / export.MANIFEST).exists():
        return f"{folder} exists"
    return str(export.open_data_export(day=day))


@shared_task(name="apps.analytics.tasks.evaluate_forecasts")
def evaluate_forecasts() -> int:
    """The weekly evaluation (``manage.py forecast_evaluate``); returns how many lots are kept. A
    scheduler that starts again the same day (the embedded one runs every entry at start) finds the
    same held-out days already judged, every lot, and leaves them: the answer would be the same."""
    days = settings.FORECAST_EVALUATION_DAYS
    if forecast.forecasts_evaluated(days=days):
        return forecast.forecasts_kept()
    return forecast.forecasts_evaluate(days=days).kept


@shared_task(name="apps.analytics.tasks.refresh_forecasts")
def refresh_forecasts() -> int:
    """The kept lots' forecasts from their latest samples; returns how many were written."""
    return forecast.forecasts_refresh()
