"""Reads of parking sessions that several callers share."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.db.models import Q

from .models import ParkingSession, SessionMoneyEntry


def sessions_matching(*, lot_ids: Collection[int], plates: Collection[str], tickets: Collection[str],
                      reviews_exited_after: datetime | None, lock: bool = False) -> list[ParkingSession]:
    """Sessions an ingest batch may continue: the active ones (in the lot or waiting for payment) of
    these plates or tickets, and, when ``reviews_exited_after`` is given, exits seen without an entry
    since then (a late entry completes them). ``lock``: row-locked, in id order, for the caller
    that will change them."""
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
    found = ParkingSession.objects.filter(wanted, vehicle, lot_id__in=list(lot_ids)).order_by("pk")
    if lock:
        found = found.select_for_update(no_key=True)
    return list(found)


def sessions_by_ids(ids: Collection[int]) -> dict[int, ParkingSession]:
    if not ids:
        return {}
    return {s.pk: s for s in ParkingSession.objects.filter(pk__in=list(ids))}


def balances_from_ledger(session_id: int) -> dict:
    """A session's paid and waived amounts, and each of its arrears records' amount and paid amount,
    rebuilt from its ledger alone (what an auditor checks the stored balances against)."""
    paid = waived = 0
    arrears: dict[int, dict[str, int]] = {}
    kinds = SessionMoneyEntry.Kind
    for kind, amount, arrears_id in SessionMoneyEntry.objects.filter(session_id=session_id).values_list(
            "kind", "amount_fen", "arrears_id"):
        if kind == kinds.PAYMENT:
            paid += amount
        elif kind == kinds.REFUND:
            paid -= amount
        elif kind == kinds.WAIVER:
            waived += amount
        elif kind == kinds.ARREARS:
            arrears.setdefault(arrears_id, {"amount_fen": 0, "paid_fen": 0})["amount_fen"] += amount
        elif kind == kinds.ARREARS_PAYMENT:
            arrears.setdefault(arrears_id, {"amount_fen": 0, "paid_fen": 0})["paid_fen"] += amount
    return {"paid_fen": paid, "waived_fen": waived, "arrears": arrears}
