"""Reads of parking sessions that several callers share."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db.models import Q

from apps.lots.models import FreeWindow, ParkingLot

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


def free_windows_by_lot(*, lots: Collection[ParkingLot], start: datetime, end: datetime) -> dict[int, list]:
    """``apps.lots.selectors.free_windows_for`` for many lots in one query: per lot id, the free
    windows (city-wide, the lot's region or the lot itself) overlapping [start, end)."""
    lots = list(lots)
    if not lots:
        return {}
    rows = list(
        FreeWindow.objects.filter(starts_at__lt=end, ends_at__gt=start)
        .filter(Q(lot__isnull=True, region__isnull=True) | Q(region_id__in={lot.region_id for lot in lots})
                | Q(lot_id__in={lot.pk for lot in lots}))
        .order_by("starts_at")
        .values_list("starts_at", "ends_at", "region_id", "lot_id")
    )
    return {
        lot.pk: [(starts, ends) for starts, ends, region_id, lot_id in rows
                 if (region_id is None and lot_id is None) or region_id == lot.region_id or lot_id == lot.pk]
        for lot in lots
    }
