"""Helpers for the money tests: paid orders through the sandbox gateway (its trade paid at the
cashier, the gateway's answer applied as the periodic check applies it), pay-later arrears, and
the rows staff set (money policy, reminder rules)."""

from __future__ import annotations

from datetime import date, timedelta

import factory
from django.utils import timezone

from apps.payments import providers, sandbox, services
from apps.payments.models import MoneyPolicy, Order, ReminderRule
from apps.sessions.models import Arrears, ParkingSession
from tests.factories_payments import Gate, stay_waiting

NOTIFY_BASE = "http://testserver"


def paid_order(stay: ParkingSession, *, lot_id: int | None = None) -> Order:
    """The stay's order, paid at the sandbox cashier and applied (as a verified notice would be)."""
    order, _created = services.order_create(channel="sandbox", session_ids=[stay.pk], notify_base=NOTIFY_BASE,
                                            lot_id=lot_id)
    return _pay(order)


def _pay(order: Order) -> Order:
    sandbox.trade_pay(order.order_no)
    provider = providers.get("sandbox")
    outcome = services.payment_result_apply(channel="sandbox", result=provider.query(order.order_no),
                                            expected=provider.expected_merchant())
    assert outcome == services.PAID, outcome
    order.refresh_from_db()
    return order


def paid_arrears_order(arrears: list[Arrears], *, user, lot_id: int | None = None) -> Order:
    order, _created = services.order_create(channel="sandbox", arrears_ids=[a.pk for a in arrears], user=user,
                                            notify_base=NOTIFY_BASE, lot_id=lot_id)
    return _pay(order)


def arrears_of(gate: Gate, plate: str, *, minutes: int = 90, days_ago: int = 0) -> Arrears:
    """A stay the car drove away from unpaid: its due owed as arrears (created ``days_ago``)."""
    stay = stay_waiting(gate, plate, minutes=minutes)
    ParkingSession.objects.filter(pk=stay.pk).update(state="closed")
    return Arrears.objects.create(session=stay, plate=plate, lot=stay.lot, amount_fen=stay.due_fen,
                                  created_at=timezone.now() - timedelta(days=days_ago))


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MoneyPolicy

    valid_from = factory.LazyFunction(lambda: date(2020, 1, 1))
    refund_approval_over_fen = 1000
    service_fee_bp = 500
    recovery_incentive_bp = 1000


class RuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReminderRule

    name = factory.Sequence(lambda n: f"规则{n}")
    action = ReminderRule.Action.NOTICE
    after_days = 1
