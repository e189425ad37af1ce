"""Periodic lot work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the same
functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import connectivity


@shared_task(name="apps.lots.tasks.watch_connectivity")
def watch_connectivity() -> int:
    """Mark lots that have gone quiet offline (SPEC §3.3); returns how many went offline."""
    return len(connectivity.lots_mark_offline(now=timezone.now()))
