"""Reads of parking sessions that several callers share."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db.models import Q

from .models import ParkingSession


def sessions_matching(*, lot_ids: Collection[int], plates: Collection[str], tickets: Collection[str],
                      reviews_exited_after: datetime | None) -> list[ParkingSession]:
    """Sessions an ingest batch may continue: the active ones (in the lot or waiting for payment) of
    these plates or tickets, and, when ``reviews_exited_after`` is given, exits seen without an entry
    since then (a late entry completes them)."""
    vehicle = Q()
    if plates:
        vehicle |= Q(plate__in=list(plates))
    if tickets:
        vehicle |= Q(ticket_id__in=list(tickets))
    if not lot_ids or not vehicle:
        return []
    wanted = Q(state__in=ParkingSession.ACTIVE_STATES)
    if reviews_exited_after is not None:
        wanted |= Q(state=ParkingSession.State.REVIEW, entry_at__isnull=True, exit_at__gte=reviews_exited_after)
    return list(ParkingSession.objects.filter(wanted, vehicle, lot_id__in=list(lot_ids)).order_by("pk"))


def sessions_by_ids(ids: Collection[int]) -> dict[int, ParkingSession]:
    if not ids:
        return {}
    return {s.pk: s for s in ParkingSession.objects.filter(pk__in=list(ids))}
