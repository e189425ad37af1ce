"""What the database itself holds about orders, whatever code writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.payments.models import Order, OrderItem, Payment
from tests.factories_sessions import SessionFactory

pytestmark = pytest.mark.django_db


def _order(no: str, **fields) -> Order:
    now = timezone.now()
    values = {"channel": "sandbox", "amount_fen": 500, "created_at": now, "expires_at": now + timedelta(minutes=15)}
    values.update(fields)
    return Order.objects.create(order_no=no, **values)


def _item(order: Order, session, **fields) -> OrderItem:
    return OrderItem.objects.create(order=order, kind="session", session=session, lot=session.lot, amount_fen=500,
                                    **fields)


def test_a_debt_is_in_at_most_one_open_order():
    session = SessionFactory()
    _item(_order("A" * 24), session)
    with pytest.raises(IntegrityError), transaction.atomic():
        _item(_order("B" * 24), session)


def test_a_debt_whose_order_is_no_longer_open_may_be_ordered_again():
    session = SessionFactory()
    first = _item(_order("A" * 24, state="closed"), session, open=False)
    again = _item(_order("B" * 24), session)
    assert first.pk != again.pk


def test_an_item_names_exactly_one_debt_of_its_kind():
    session = SessionFactory()
    order = _order("A" * 24)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderItem.objects.create(order=order, kind="arrears", session=session, lot=session.lot, amount_fen=500)


def test_a_provider_transaction_is_recorded_once_per_channel():
    order = _order("A" * 24)
    now = timezone.now()
    Payment.objects.create(order=order, channel="sandbox", transaction_id="T1", amount_fen=500, paid_at=now,
                           created_at=now)
    Payment.objects.create(order=order, channel="wechat", transaction_id="T1", amount_fen=500, paid_at=now,
                           created_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(order=order, channel="sandbox", transaction_id="T1", amount_fen=500, paid_at=now,
                               created_at=now)
