"""The periodic supervision pass. Celery beat runs it in production (CELERY_BEAT_SCHEDULE's
``supervise-data-quality``); ``manage.py run_scheduler`` runs the same function in the embedded default."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import engine


@shared_task(name="apps.analytics.supervision.tasks.supervise_data_quality")
def supervise_data_quality() -> dict:
    """督查: run every enabled rule over all lots, then close cases quiet for their rule's period."""
    return engine.rules_run(now=timezone.now())
