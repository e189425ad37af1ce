"""Periodic booking and sharing work. Celery beat runs it in production; ``manage.py run_scheduler``
runs the same functions in the embedded default (settings.CELERY_BEAT_SCHEDULE is the one list)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="apps.reservations.tasks.sweep_reservations")
def sweep_reservations() -> dict:
    """No-shows, suspensions, completed bookings and expired sharing contracts."""
    now = timezone.now()
    done = services.reservations_sweep(now=now)
    done["expired_contracts"] = services.sharing_contracts_expire(now=now)
    return done
