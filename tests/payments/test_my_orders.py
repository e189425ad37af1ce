"""``GET /api/v1/me/orders``: my orders and the receipts of my bound plates, newest first, and
nobody else's; one list in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.common import citizens
from apps.payments.models import Order, OrderItem
from tests.factories import UserFactory
from tests.factories_payments import flat_lot
from tests.factories_sessions import SessionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.midday]
PATH = "/api/v1/me/orders"


@pytest.fixture
def me():
    user = UserFactory()
    before = citizens._resolver
    citizens.register_bound_plates(lambda who: ["苏B12345"] if who.pk == user.pk else [])
    yield user
    citizens.register_bound_plates(before)


def order(n: int, *, plate="苏B12345", user=None, state="paid", lot=None, minutes_ago=0) -> Order:
    lot = lot or flat_lot()
    at = timezone.now() - timedelta(minutes=minutes_ago)
    made = Order.objects.create(order_no=f"2026120100000{n:02d}ABCDEFGHIJKL", channel="sandbox", amount_fen=600,
                                plate=plate, user=user, lot=lot, state=state, created_at=at,
                                expires_at=at + timedelta(minutes=15), paid_at=at if state == "paid" else None)
    stay = SessionFactory(lot=lot, plate=plate)
    OrderItem.objects.create(order=made, kind="session", session=stay, lot=lot, amount_fen=600, open=False)
    return made


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_my_orders_and_my_plates_receipts_newest_first_and_nobody_elses(me):
    lot = flat_lot()
    mine_open = order(1, user=me, state="created", plate="苏B99999", minutes_ago=5)
    receipt = order(2, lot=lot, minutes_ago=10)  # paid at the lot's code without login
    order(3, state="created", minutes_ago=1)  # someone's unpaid order for my plate: not a receipt
    order(4, plate="苏B54321", minutes_ago=2)  # another plate
    order(5, user=UserFactory(), plate="苏B54321", minutes_ago=3)  # another citizen's
    response = signed_in(me).get(PATH)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [row["order_no"] for row in body] == [mine_open.order_no, receipt.order_no]
    assert body[1] == {"order_no": receipt.order_no, "state": "paid", "channel": "sandbox", "amount_fen": 600,
                       "refunded_fen": 0, "plate": "苏B12345", "lot_code": lot.code, "lot_name": lot.name,
                       "items": [{"kind": "session", "id": receipt.items.get().session_id, "amount_fen": 600}],
                       "created_at": body[1]["created_at"], "paid_at": body[1]["paid_at"]}
    assert "pay" not in body[0]


def test_the_list_takes_a_login(api_client):
    response = api_client.get(PATH)
    assert response.status_code == 401 and response.json()["error"]["code"]


def test_the_list_costs_the_same_queries_however_long(me):
    lot = flat_lot()
    client = signed_in(me)
    order(1, user=me, lot=lot)
    with CaptureQueriesContext(connection) as few:
        client.get(PATH)
    for n in range(2, 8):
        order(n, user=me)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(PATH).json()) == 7
    assert len(many) == len(few)
