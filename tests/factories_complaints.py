"""Factories and helpers for the hotline's tests."""

from __future__ import annotations

from apps.complaints import services
from apps.complaints.models import Category, Channel, Ticket
from tests.factories import LotFactory

PHONE = "13912345678"


def category(code: str = "fee_dispute") -> Category:
    return Category.objects.get(code=code)


def make_ticket(*, lot=None, category_code: str = "equipment_fault", phone: str = PHONE, dispatch: bool = True,
                channel: str = Channel.WEB, **kwargs) -> Ticket:
    """A ticket through the service (as any channel makes one), dispatched unless asked not to. The
    seeded categories are made sure of first: a transactional test elsewhere may have flushed them."""
    from apps.complaints.defaults import ensure

    ensure(Category)
    if lot is None and "region" not in kwargs:
        lot = LotFactory()
    ticket = services.ticket_create(channel=channel, category=category_code, description="道闸抬不起来",
                                    phone=phone, lot=lot, **kwargs)
    if dispatch:
        services.ticket_dispatch(ticket=ticket)
    ticket.refresh_from_db()
    return ticket


def move(ticket: Ticket, *targets: str, actor=None, **kwargs) -> Ticket:
    for target in targets:
        reason = kwargs.pop("reason", "duplicate" if target == "rejected" else "")
        ticket = services.ticket_transition(ticket=ticket, target=target, actor=actor, reason=reason, **kwargs)
    ticket.refresh_from_db()
    return ticket
