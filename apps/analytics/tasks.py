"""Periodic analytics work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the same
functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import forecast


@shared_task(name="apps.analytics.tasks.evaluate_forecasts")
def evaluate_forecasts() -> int:
    """The weekly evaluation (``manage.py forecast_evaluate``); returns how many lots are kept."""
    return forecast.forecasts_evaluate(days=settings.FORECAST_EVALUATION_DAYS).kept


@shared_task(name="apps.analytics.tasks.refresh_forecasts")
def refresh_forecasts() -> int:
    """The kept lots' forecasts from their latest samples; returns how many were written."""
    return forecast.forecasts_refresh()
