"""What a session owes: the one rule, used by ingest at the barrier and by the payment services.

A session's balances are ``amount_fen`` (what the stay cost, fixed at its first priced exit),
``paid_fen`` (payments less refunds) and ``waived_fen`` (forgiven by a stated rule); what is due is
what is left of the amount, never below zero. Each change of paid or waived is a
``SessionMoneyEntry`` row written by ``apps.sessions.services``; nothing else writes those columns.
"""

from __future__ import annotations

from .models import ParkingSession, SessionMoneyEntry

Kind = SessionMoneyEntry.Kind


def due_fen(*, amount_fen: int, paid_fen: int, waived_fen: int) -> int:
    """What is still due: the amount less what was paid and waived, never below zero (a car paid
    in advance of its exit owes nothing, and an overpayment is refunded, not owed back)."""
    return max(amount_fen - paid_fen - waived_fen, 0)


def session_due(session: ParkingSession) -> int:
    return due_fen(amount_fen=session.amount_fen, paid_fen=session.paid_fen, waived_fen=session.waived_fen)
