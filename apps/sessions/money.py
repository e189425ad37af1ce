"""What a session owes: the one rule, used by ingest at the barrier and by the payment services.

A session's balances are ``amount_fen`` (what the stay cost, fixed at its first priced exit),
``paid_fen`` (payments less refunds) and ``waived_fen`` (forgiven by a stated rule); what is due is
what is left of the amount, never below zero. Each change of paid or waived is a
``SessionMoneyEntry`` row written by ``apps.sessions.services``; nothing else writes those columns.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .models import ParkingSession, SessionMoneyEntry

Kind = SessionMoneyEntry.Kind


def due_fen(*, amount_fen: int, paid_fen: int, waived_fen: int) -> int:
    """What is still due: the amount less what was paid and waived, never below zero (a car paid
    in advance of its exit owes nothing, and an overpayment is refunded, not owed back)."""
    return max(amount_fen - paid_fen - waived_fen, 0)


def session_due(session: ParkingSession) -> int:
    return due_fen(amount_fen=session.amount_fen, paid_fen=session.paid_fen, waived_fen=session.waived_fen)


def amount_after_grace(*, amount_fen: int, paid_fen: int, exit_at: datetime, paid_at: datetime | None,
                       grace_minutes: int) -> int:
    """What a stay paid while parked costs at ``exit_at`` (SPEC §8.1 ``grace_minutes``): leaving
    within ``grace_minutes`` of its last payment (``paid_at``) it costs no more than was paid, so it
    is released as ``paid``; later it costs the whole stay, so only the time past what was paid for
    is due. ``amount_fen`` is the whole stay's price."""
    if paid_at is None or paid_fen <= 0 or not paid_at <= exit_at <= paid_at + timedelta(minutes=grace_minutes):
        return amount_fen  # (an exit seen before the payment was made is priced in full, as any other)
    return min(amount_fen, paid_fen)
