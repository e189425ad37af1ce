"""The hotline's tickets that name a plate, for the plate owner's export (``apps.common.privacy``).

A ticket about a plate is often someone else's complaint: the caller's phone, name, words and
address are the caller's, not the plate owner's, and stay out of the export."""

from __future__ import annotations

from .models import Ticket


def export_tickets(plate: str) -> dict:
    return {"tickets": list(Ticket.objects.filter(plate=plate).order_by("created_at", "pk").values(
        "ticket_no", "channel", "category__code", "category__name", "state", "lot__code", "session_id", "created_at",
        "resolved_at", "closed_at"))}
