"""Periodic ingest work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the same
functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both)."""

from __future__ import annotations

from celery import shared_task

from . import nonces


@shared_task(name="apps.sessions.tasks.purge_nonces")
def purge_nonces() -> int:
    """Delete the nonces recorded in the database during a cache outage once their TTL has passed."""
    return nonces.nonces_purge()
