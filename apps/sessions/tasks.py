"""Periodic ingest work. Celery beat runs it in production; ``manage.py run_scheduler`` runs the same
functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list of both)."""

from __future__ import annotations

from celery import shared_task

from . import nonces


@shared_task(name="apps.sessions.tasks.purge_nonces")
def purge_nonces() -> int:
    """Delete the nonces recorded in the database during a cache outage once their TTL has passed."""
    return nonces.nonces_purge()


@shared_task(name="apps.sessions.tasks.purge_plates")
def purge_plates() -> dict:
    """Hash the plates of settled stays past SESSION_PLATE_RETENTION_DAYS (apps.sessions.retention).

    At most 200 batches a run, so one run stays short; the next hour's run goes on with the rest."""
    from .retention import purge_plates as purge

    result = purge(max_batches=200)
    return {"sessions": result.sessions, "events": result.events, "arrears": result.arrears}
