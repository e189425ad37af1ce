"""Payment races on PostgreSQL, with real threads and real requests through the stack: identical
notices pay once, a stay is never in two unpaid orders nor paid twice, and a payment racing the
same stay's exit loses neither."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.common import citizens
from apps.payments.models import Order, OrderItem, Payment
from apps.sessions.models import IngestEvent, ParkingSession, SessionMoneyEntry
from tests.factories import DeviceFactory, UserFactory
from tests.factories_payments import Gate, flat_lot, order_for, payment_payload, post_notice, stay_waiting
from tests.factories_sessions import exit_event, signed_post
from tests.threads import run_together as _run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.midday]


def _order(stay) -> Order:
    response = order_for(APIClient(), [stay.pk])
    assert response.status_code == 201, response.content
    return Order.objects.get(order_no=response.json()["order_no"])


def test_twenty_identical_notices_at_once_pay_once():
    stay = stay_waiting(Gate(flat_lot()))
    order = _order(stay)
    payload = payment_payload(order)

    def notice():
        return post_notice(Client(), payload).status_code

    assert _run_together([notice] * 20) == [200] * 20
    stay.refresh_from_db()
    assert (stay.paid_fen, stay.due_fen) == (600, 0)
    assert SessionMoneyEntry.objects.filter(kind="payment").count() == 1
    assert Payment.objects.count() == 1
    assert Order.objects.get().state == "paid"


def test_a_stay_cannot_be_in_two_unpaid_orders_nor_paid_twice():
    stay = stay_waiting(Gate(flat_lot()))
    users = [UserFactory() for _ in range(8)]  # eight different payers, so none may share another's order
    citizens.register_bound_plates(lambda user: [stay.plate])  # each has the plate bound: their orders are theirs

    def create(user):
        def run():
            client = APIClient()
            client.force_authenticate(user)
            response = order_for(client, [stay.pk])
            return response.status_code, response.json().get("order_no") or response.json()["error"]["code"]
        return run

    results = _run_together([create(u) for u in users])
    made = [no for status, no in results if status == 201]
    assert len(made) == 1, results
    assert sorted(no for status, no in results if status != 201) == ["debt_in_open_order"] * 7
    assert OrderItem.objects.filter(session=stay, open=True).count() == 1
    # Paying the one order and then (concurrently) a forged second order for the stay changes nothing twice.
    order = Order.objects.get(order_no=made[0])
    _run_together([lambda: post_notice(Client(), payment_payload(order)).status_code] * 5)
    stay.refresh_from_db()
    assert stay.paid_fen == 600 and SessionMoneyEntry.objects.filter(kind="payment").count() == 1


def test_the_same_anonymous_debts_at_once_give_one_order():
    stay = stay_waiting(Gate(flat_lot()))

    def create():
        response = order_for(APIClient(), [stay.pk])
        return response.status_code, response.json()["order_no"]

    results = _run_together([create] * 6)
    assert sorted(status for status, _ in results) == [200] * 5 + [201]
    assert len({no for _, no in results}) == 1


def test_a_payment_racing_the_exit_of_the_same_stay_loses_neither():
    lot = flat_lot()
    gate = Gate(lot)
    device, secret = DeviceFactory.issue(lots=[lot])
    for round_ in range(6):
        plate = f"苏B2000{round_}"
        stay = gate.enter(plate, at=timezone.now() - timedelta(minutes=50))  # in the lot, 400 due now
        order = _order(stay)
        payload = payment_payload(order)

        def pay(payload=payload):
            return post_notice(Client(), payload).status_code

        def leave(plate=plate):
            response = signed_post(Client(), device, secret, {"events": [exit_event(lot, plate)]})
            assert response.status_code == 200, response.content
            return response.json()["results"][0]["session"]

        paid, decision = _run_together([pay, leave])
        assert paid == 200
        stay.refresh_from_db()
        # Both happened: the payment is on the stay, and the exit was decided from what was paid then.
        assert stay.paid_fen == 400 and SessionMoneyEntry.objects.filter(session=stay, kind="payment").count() == 1
        assert stay.exit_at is not None and IngestEvent.objects.filter(session=stay, type="exit").count() == 1
        assert stay.amount_fen == 400
        if decision["release_reason"] == "paid":  # the payment committed first
            assert stay.state == "closed" and decision["paid_fen"] == 400
        else:  # the exit first: it waits, and the re-sent exit is now released
            assert decision["release_reason"] == "unpaid" and stay.due_fen == 0
            again = signed_post(Client(), device, secret, {"events": [exit_event(lot, plate)]}).json()
            assert again["results"][0]["session"]["release_reason"] == "paid"
        assert ParkingSession.objects.get(pk=stay.pk).due_fen == 0
        assert Order.objects.get(pk=order.pk).state == "paid"
