"""Reads of parking sessions that several callers share."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q, QuerySet

from apps.common.db import row_version
from apps.common.errors import DomainError
from apps.lots import selectors as lot_selectors

from . import money
from .models import Arrears, ParkingSession, SessionMoneyEntry


def _matching(*, lot_ids: Collection[int], plates: Collection[str], tickets: Collection[str],
              reviews_exited_after: datetime | None):
    vehicle = Q()
    if plates:
        vehicle |= Q(plate__in=list(plates))
    if tickets:
        vehicle |= Q(ticket_id__in=list(tickets))
    if not lot_ids or not vehicle:
        return None
    wanted = Q(state__in=ParkingSession.ACTIVE_STATES)
    if reviews_exited_after is not None:
        wanted |= Q(state=ParkingSession.State.REVIEW, entry_at__isnull=True, exit_at__gte=reviews_exited_after)
    return ParkingSession.objects.filter(wanted, vehicle, lot_id__in=list(lot_ids)).order_by("pk")


def sessions_matching(*, lot_ids: Collection[int], plates: Collection[str], tickets: Collection[str],
                      reviews_exited_after: datetime | None, lock: bool = False,
                      versions: bool = False) -> list[ParkingSession]:
    """Sessions an ingest batch may continue: the active ones (in the lot or waiting for payment) of
    these plates or tickets, and, when ``reviews_exited_after`` is given, exits seen without an entry
    since then (a late entry completes them). ``lock``: row-locked, in id order, for the caller
    that will change them. ``versions`` (PostgreSQL): each with its ``row_version``, for
    ``session_versions_query`` to be compared with."""
    found = _matching(lot_ids=lot_ids, plates=plates, tickets=tickets, reviews_exited_after=reviews_exited_after)
    if found is None:
        return []
    if lock:
        found = found.select_for_update(no_key=True)
    if versions:
        found = found.annotate(row_version=row_version(ParkingSession))
    return list(found)


def session_versions_query(*, lot_ids: Collection[int], plates: Collection[str], tickets: Collection[str],
                           reviews_exited_after: datetime | None) -> QuerySet | None:
    """PostgreSQL: the query of (id, row version) of what ``sessions_matching`` finds now, row-locked
    in id order (None when it would find none): equal to the versions of an earlier read, the
    sessions are as that read found them."""
    found = _matching(lot_ids=lot_ids, plates=plates, tickets=tickets, reviews_exited_after=reviews_exited_after)
    if found is None:
        return None
    return found.select_for_update(no_key=True).annotate(row_version=row_version(ParkingSession)).values_list(
        "pk", "row_version")


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
        elif kind == kinds.ARREARS_REFUND:
            arrears.setdefault(arrears_id, {"amount_fen": 0, "paid_fen": 0})["paid_fen"] -= amount
    return {"paid_fen": paid, "waived_fen": waived, "arrears": arrears}


def last_payment_times(session_ids: Collection[int]) -> dict[int, datetime]:
    """When each of these sessions was last paid (its newest payment row), for the grace rule."""
    if not session_ids:
        return {}
    rows = (SessionMoneyEntry.objects.filter(session_id__in=list(session_ids), kind=SessionMoneyEntry.Kind.PAYMENT)
            .values("session_id").annotate(at=Max("created_at")).values_list("session_id", "at"))
    return dict(rows)


def active_stays(*, lot_id: int, plate: str) -> list[ParkingSession]:
    """A plate's stays in one lot that may still owe at its barrier: in the lot or waiting for payment."""
    return list(ParkingSession.objects.filter(lot_id=lot_id, plate=plate, state__in=ParkingSession.ACTIVE_STATES)
                .select_related("lot", "lot__tariff").order_by("entry_at", "pk"))


@dataclass(frozen=True)
class StayDue:
    """What a stay owes now: a stay still in the lot is priced to ``now`` (within the grace after a
    payment it owes nothing more); one waiting at the barrier keeps the amount fixed at its exit."""

    session: ParkingSession
    amount_fen: int
    paid_fen: int
    due_fen: int


def stays_due(sessions: Iterable[ParkingSession], *, now: datetime) -> list[StayDue]:
    """Each session's amount, paid and due as of ``now`` (``session.lot`` and its tariff loaded).
    A stay our data cannot price owes nothing here: staff review it at its exit."""
    sessions = list(sessions)
    paid_at = last_payment_times([s.pk for s in sessions if s.state == ParkingSession.State.OPEN and s.paid_fen])
    found = []
    for session in sessions:
        amount = session.amount_fen
        if session.state == ParkingSession.State.OPEN:
            amount = 0
            if session.entry_at is not None:
                try:
                    amount = lot_selectors.fee_for_stay(
                        lot=session.lot, entry=session.entry_at, exit=max(now, session.entry_at),
                        vehicle_class=session.vehicle_class, new_energy=session.new_energy)
                except DomainError:  # no tariff, or a stay that cannot be priced: nothing to ask for now
                    amount = 0
            amount = money.amount_after_grace(amount_fen=amount, paid_fen=session.paid_fen, exit_at=now,
                                              paid_at=paid_at.get(session.pk), grace_minutes=session.lot.grace_minutes)
        due = money.due_fen(amount_fen=amount, paid_fen=session.paid_fen, waived_fen=session.waived_fen)
        found.append(StayDue(session, amount, session.paid_fen, due))
    return found


def debts_locked(*, session_ids: Collection[int]) -> list[Arrears]:
    """Row-lock these sessions, then their arrears records (each by id), for a caller that will
    change their money through the services and lock something after them (an order): the
    platform's one lock order is lot → session → order. Returns the arrears records as locked."""
    if not session_ids:
        return []
    list(ParkingSession.objects.select_for_update(no_key=True).filter(pk__in=list(session_ids))
         .order_by("pk").values_list("pk", flat=True))
    return list(Arrears.objects.select_for_update(no_key=True).filter(session_id__in=list(session_ids)).order_by("pk"))
