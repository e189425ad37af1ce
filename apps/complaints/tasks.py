"""Hotline work done after commit or periodically. Celery beat runs ``supervise_tickets`` in
production; ``manage.py run_scheduler`` runs the same function in the embedded default."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="apps.complaints.tasks.dispatch_ticket")
def dispatch_ticket(ticket_id: int) -> None:
    """Route a new ticket to its unit (queued after the ticket's commit)."""
    services.ticket_dispatch(ticket=ticket_id)


@shared_task(name="apps.complaints.tasks.supervise_tickets")
def supervise_tickets() -> dict[str, int]:
    """督办: warn before deadlines, escalate overdue tickets, close resolved ones after 7 days."""
    return services.tickets_supervise(now=timezone.now())
