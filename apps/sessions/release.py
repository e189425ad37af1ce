"""Whether an exit opens the barrier, and why (SPEC §3.2 ``release_reason``).

``decide_release`` is the rule, pure. The hook functions below answer questions other features
own; until those features exist they answer "no", and each says which work fills it in:

- ``plates_with_payment_agreement`` — the payments work (payment agreements, 无感支付);
- ``arrangements_at_exit`` — the reservations work (hospital reservations, off-peak sharing
  contracts).

Both take whole batches so that an ingest batch asks each question once, not once per exit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .models import ParkingSession

Reason = ParkingSession.ReleaseReason


@dataclass(frozen=True)
class Release:
    release: bool
    reason: str


def decide_release(*, amount_fen: int, paid_fen: int, entry_known: bool, arrangement: str | None,
                   payment_agreement: bool, lot_allows_pay_later: bool) -> Release:
    """The barrier decision, in this order: no known entry → ``review`` (released, nothing charged
    by guess); nothing to charge → ``free``; already paid in full → ``paid``; a reservation or a
    sharing contract covering the stay → that; a payment agreement or a lot that lets drivers leave
    first → ``pay_later`` (the due becomes arrears); otherwise ``unpaid`` and the barrier stays shut.
    """
    if not entry_known:
        return Release(True, Reason.REVIEW)
    if amount_fen <= 0:
        return Release(True, Reason.FREE)
    if paid_fen >= amount_fen:
        return Release(True, Reason.PAID)
    if arrangement in (Reason.RESERVATION, Reason.SHARING_CONTRACT):
        return Release(True, arrangement)
    if payment_agreement or lot_allows_pay_later:
        return Release(True, Reason.PAY_LATER)
    return Release(False, Reason.UNPAID)


def plates_with_payment_agreement(plates: Iterable[str]) -> set[str]:
    """Plates among ``plates`` whose owner signed a payment agreement (leave now, charged later).

    Hook for the payments work: no agreements exist yet, so none has one.
    """
    return set()


@dataclass(frozen=True)
class ExitQuery:
    lot_id: int
    plate: str
    exit_at: datetime


def arrangements_at_exit(exits: Iterable[ExitQuery]) -> dict[ExitQuery, str]:
    """For exits covered by a reservation or an off-peak sharing contract, ``"reservation"`` or
    ``"sharing_contract"``.

    Hook for the reservations work: no reservations or sharing contracts exist yet, so none is.
    """
    return {}
