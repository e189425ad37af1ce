"""Whether an exit opens the barrier, and what becomes of what is due (SPEC §3.2 ``release_reason``).

``decide_release`` is the rule, pure. What other features know about a car — a payment agreement
(无感支付, the payments work), a hospital reservation or an off-peak sharing contract (the
reservations work) — comes through this port: those apps register a ``ReleaseProvider`` from their
``AppConfig.ready()`` with ``register_release_provider``, and this app imports neither (the staff
scope resolver in ``apps.common.scope`` is the same pattern). With nothing registered no exit is
covered, which is the platform as it stands.

A provider answers for a whole batch at once (one call, and so one query, per batch each):

- ``at_entry(entries)`` is told the entries a batch opened (with their session ids), inside the
  batch's transaction, so that what it records (a booking marked arrived) commits or rolls back with
  the sessions. It answers nothing.
- ``at_close(closed)`` (optional) is told the stays a batch closed (the car has left: released at
  the barrier, or gone unseen), inside the batch's transaction, so that what it ends (a booking
  completed) commits with them. It answers nothing.
- ``at_exit(exits)`` answers, for the exits it covers, a ``Cover``: the release reason and what
  becomes of what is still due — ``waive`` (forgiven by the rule the cover states: a waiver row in
  the session's ledger) or ``arrears`` (owed later: an arrears record). Never silently dropped: a
  cover that says neither is refused when it is made.

A cover may also bring ``free_windows`` of its own (an off-peak sharing contract's windows, the
free minutes of a booked EV charging berth): the fee engine prices that plate's stay with them
(SPEC §6 rule 2) beside the lot's. Such a cover may say ``billed``: it releases the car only when
its windows leave nothing to charge, and whatever is still due is billed as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .models import ParkingSession

Reason = ParkingSession.ReleaseReason

WAIVE = "waive"
ARREARS = "arrears"
BILLED = "billed"  # the cover releases nothing that is due: its free windows priced the stay, that is all

#: the reasons a provider may release a car for, and what may become of its due under each
_COVERED = {
    Reason.RESERVATION: (WAIVE, ARREARS, BILLED),
    Reason.SHARING_CONTRACT: (WAIVE, ARREARS, BILLED),
    Reason.PAY_LATER: (ARREARS,),  # a payment agreement charges later: the due is owed, not forgiven
}
# When several providers cover one exit: an arrangement for the stay before a promise to pay later.
_PRECEDENCE = (Reason.RESERVATION, Reason.SHARING_CONTRACT, Reason.PAY_LATER)

#: the built-in rule of a lot that lets every plated car leave first and pay later
LOT_PAY_LATER_RULE = "lot_allows_pay_later"
#: the rule under which an unpaid wait the car drove away from becomes arrears
LEFT_UNPAID_RULE = "left_without_paying"


@dataclass(frozen=True)
class EntryQuery:
    lot_id: int
    plate: str
    entry_at: datetime
    session_id: int


@dataclass(frozen=True)
class ClosedStay:
    lot_id: int
    session_id: int
    closed_at: datetime


@dataclass(frozen=True)
class ExitQuery:
    lot_id: int
    plate: str
    exit_at: datetime


@dataclass(frozen=True)
class Cover:
    """A provider's answer for one exit. ``rule`` is the stated rule the due is waived or owed
    under (stored in the ledger row's ``reason``), ``reference`` what it rests on (a booking code,
    an agreement number)."""

    reason: str
    due: str
    rule: str
    reference: str = ""
    free_windows: tuple[tuple[datetime, datetime], ...] = ()

    def applies_to(self, entry: datetime | None, exit: datetime) -> bool:
        """A cover resting only on free windows speaks for a stay those windows touch."""
        if self.due != BILLED:
            return True
        return entry is not None and any(start < exit and end > entry for start, end in self.free_windows)

    def __post_init__(self):
        allowed = _COVERED.get(self.reason)
        if allowed is None:
            raise ValueError(f"a provider cannot release a car as {self.reason!r}")
        if self.due not in allowed:
            raise ValueError(f"what is due under {self.reason!r} must become one of {allowed}, not {self.due!r}")
        if not self.rule:
            raise ValueError("a cover must state the rule it waives or defers the due under")
        if self.due == BILLED and not self.free_windows:
            raise ValueError("a cover that bills what is due must bring the free windows it rests on")


class ReleaseProvider(Protocol):
    name: str

    def at_entry(self, entries: Sequence[EntryQuery]) -> None: ...

    def at_exit(self, exits: Sequence[ExitQuery]) -> dict[ExitQuery, Cover]: ...


_providers: dict[str, ReleaseProvider] = {}


def register_release_provider(provider: ReleaseProvider) -> None:
    """Called from an app's ``ready()``; registering a name again replaces it (a reload)."""
    _providers[provider.name] = provider


def unregister_release_provider(name: str) -> None:
    _providers.pop(name, None)


def release_providers() -> list[ReleaseProvider]:
    return list(_providers.values())


def entries_opened(entries: Sequence[EntryQuery]) -> None:
    """Tell every provider about the entries a batch opened (plated ones only)."""
    if entries:
        for provider in release_providers():
            provider.at_entry(entries)


def stays_closed(closed: Sequence[ClosedStay]) -> None:
    """Tell every provider that has ``at_close`` about the stays a batch closed."""
    if closed:
        for provider in release_providers():
            at_close = getattr(provider, "at_close", None)
            if at_close is not None:
                at_close(closed)


def covers_at_exit(exits: Sequence[ExitQuery]) -> dict[ExitQuery, Cover]:
    """Each covered exit's cover: one call per provider for the whole batch; where several cover
    the same exit, the first by ``_PRECEDENCE`` (then by registration order)."""
    if not exits:
        return {}
    found: dict[ExitQuery, Cover] = {}
    for provider in release_providers():
        for query, cover in provider.at_exit(exits).items():
            held = found.get(query)
            if held is None or _PRECEDENCE.index(cover.reason) < _PRECEDENCE.index(held.reason):
                found[query] = cover
    return found


@dataclass(frozen=True)
class Release:
    release: bool
    reason: str
    cover: Cover | None = None  # what becomes of the due, when something is due and the car leaves


def decide_release(*, amount_fen: int, due_fen: int, entry_known: bool, cover: Cover | None,
                   lot_allows_pay_later: bool) -> Release:
    """The barrier decision, in this order: no known entry → ``review`` (released, nothing charged
    by guess); nothing to charge → ``free`` (or the reason of the cover whose free windows priced
    the stay, a sharing contract); nothing left due → ``paid``; a provider's cover (a reservation, a
    sharing contract, a payment agreement) → its reason, and its due waived or owed as it says — a
    cover that only ``billed`` does not release what is due; a lot that lets drivers leave first →
    ``pay_later``, the due owed as arrears; otherwise ``unpaid`` and the barrier stays shut.
    """
    if not entry_known:
        return Release(True, Reason.REVIEW)
    if amount_fen <= 0:
        return Release(True, cover.reason if cover is not None and cover.free_windows else Reason.FREE)
    if due_fen <= 0:
        return Release(True, Reason.PAID)
    if cover is not None and cover.due != BILLED:
        return Release(True, cover.reason, cover)
    if lot_allows_pay_later:
        return Release(True, Reason.PAY_LATER, Cover(Reason.PAY_LATER, ARREARS, LOT_PAY_LATER_RULE))
    return Release(False, Reason.UNPAID)
