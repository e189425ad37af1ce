"""An order's states and the moves between them (SPEC §8.1), as data, checked in one place.

``created`` → ``paid`` → ``partially_refunded`` / ``refunded``; ``created`` → ``closed`` (expired
after ``ORDER_TTL``, cancelled, or never started at the gateway). A closed order is never paid:
money a gateway takes for one anyway is a payment exception for staff.
"""

from __future__ import annotations

from datetime import timedelta

from .models import Order

State = Order.State

ORDER_TTL = timedelta(minutes=15)

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    State.CREATED: frozenset({State.PAID, State.CLOSED}),
    State.PAID: frozenset({State.PARTIALLY_REFUNDED, State.REFUNDED}),
    State.PARTIALLY_REFUNDED: frozenset({State.PARTIALLY_REFUNDED, State.REFUNDED}),
    State.REFUNDED: frozenset(),
    State.CLOSED: frozenset(),
}


class Close:
    """Why an order was closed (``Order.close_reason``)."""

    EXPIRED = "expired"
    CANCELLED = "cancelled"
    NOT_STARTED = "not_started"  # the gateway refused to start it


def may_move(current: str, target: str) -> bool:
    return target in ALLOWED_TRANSITIONS.get(current, frozenset())


def move(order: Order, target: str) -> None:
    """Set ``order.state`` to ``target``, or raise ``ValueError`` for a move the workflow forbids."""
    if not may_move(order.state, target):
        raise ValueError(f"an order cannot go from {order.state} to {target}")
    order.state = target
