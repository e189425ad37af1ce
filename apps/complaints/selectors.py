"""Reads of the hotline that several callers share."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from apps.sessions.models import ParkingSession

from . import workflow
from .models import Category, Ticket, TicketChange, Unit

#: how far back a fee dispute looks for the stay it is about
SESSION_MATCH_DAYS = 30


def categories_active() -> QuerySet[Category]:
    return Category.objects.filter(active=True)


def ticket_public(*, ticket_no: str, phone_last4: str) -> Ticket | None:
    """The caller's ticket, or None when the number is unknown or the phone's last four digits
    don't match: the two answers are the same, so a guess learns nothing."""
    ticket = (Ticket.objects.select_related("category", "unit")
              .filter(ticket_no=ticket_no.strip().upper()).first())
    if ticket is None or not ticket.phone_last4 or not hmac.compare_digest(ticket.phone_last4, phone_last4 or ""):
        return None
    return ticket


def public_history(ticket: Ticket) -> list[TicketChange]:
    return list(ticket.changes.filter(public=True).order_by("at", "pk"))


def tickets_for_staff(user) -> QuerySet[Ticket]:
    return Ticket.objects.for_user(user).select_related("category", "unit", "lot", "region")


def open311_requests() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("category", "unit").prefetch_related("changes")


def session_match(*, plate: str, lot=None, at: datetime | None = None) -> ParkingSession | None:
    """The stay a fee dispute is most likely about: the plate's latest stay (in that lot, when
    given) that had begun by ``at``, within the last 30 days."""
    if not plate:
        return None
    at = at or timezone.now()
    rows = ParkingSession.objects.filter(plate=plate, entry_at__lte=at,
                                         entry_at__gte=at - timedelta(days=SESSION_MATCH_DAYS))
    if lot is not None:
        rows = rows.filter(lot=lot)
    return rows.order_by("-entry_at").first()


def sessions_recent(*, plate: str, user, limit: int = 10) -> QuerySet[ParkingSession]:
    """A plate's latest stays that ``user`` may see, for the call-taker's look-up."""
    return (ParkingSession.objects.for_user(user).filter(plate=plate).select_related("lot")
            .order_by("-entry_at")[:limit])


def punctuality_q(kind: str, *, now: datetime) -> Q:
    """on_time: resolved by the deadline; late: resolved after it; overdue: still open past it."""
    if kind == "on_time":
        return Q(resolved_at__isnull=False, resolved_at__lte=F("resolve_by"))
    if kind == "late":
        return Q(resolved_at__isnull=False, resolved_at__gt=F("resolve_by"))
    if kind == "overdue":
        return Q(resolved_at__isnull=True, state__in=workflow.OPEN_STATES, resolve_by__lt=now)
    raise ValueError(kind)


def unit_figures(units: QuerySet[Unit]) -> QuerySet[Unit]:
    """Per unit: volume, tickets resolved on time, resolved in all, average time to respond and resolve."""
    respond = ExpressionWrapper(F("tickets__responded_at") - F("tickets__created_at"), output_field=DurationField())
    resolve = ExpressionWrapper(F("tickets__resolved_at") - F("tickets__created_at"), output_field=DurationField())
    return units.annotate(
        volume=Count("tickets", distinct=True),
        resolved_count=Count("tickets", filter=Q(tickets__resolved_at__isnull=False), distinct=True),
        on_time_count=Count("tickets", filter=Q(tickets__resolved_at__isnull=False,
                                                 tickets__resolved_at__lte=F("tickets__resolve_by")), distinct=True),
        avg_respond=Avg(respond),
        avg_resolve=Avg(resolve),
    )


def tickets_of(*, user, limit: int = 50):
    """The tickets a citizen filed with their account, newest first (their 我的 list)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Ticket.objects.none()
    return Ticket.objects.filter(user=user).select_related("category").order_by("-created_at", "-pk")[:limit]
