"""The callback (SPEC §7): verified before anything changes, a match pays once through the sessions
services, a repeat is acknowledged and changes nothing, a forged notice is refused, and a genuine one
that fits no order opens a payment exception and changes no order."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common import citizens
from apps.payments import notify, sandbox, services
from apps.payments.models import Order, Payment, PaymentException
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from apps.sessions.services import arrears_apply_payment
from tests.factories import UserFactory
from tests.factories_payments import Gate, flat_lot, order_for, payment_payload, post_notice, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def gate():
    return Gate(flat_lot())


@pytest.fixture
def order(api_client, gate):
    stay = stay_waiting(gate, minutes=90)
    return Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])


def _money():
    """Everything a notice could change, to compare before and after."""
    return (list(Order.objects.values_list("order_no", "state", "paid_at").order_by("pk")),
            list(ParkingSession.objects.values_list("pk", "paid_fen", "due_fen").order_by("pk")),
            SessionMoneyEntry.objects.filter(kind="payment").count(), Payment.objects.count())


def _acknowledged(response):
    assert response.status_code == 200, response.content
    assert response.json() == {"code": "SUCCESS"}


def _refused(response):
    assert 400 <= response.status_code < 600, response.content
    assert response.json()["code"] == "FAIL" and response.json()["message"]


def test_a_matching_notice_pays_the_order_and_the_stay(client, order):
    _acknowledged(post_notice(client, payment_payload(order)))
    order.refresh_from_db()
    assert order.state == "paid" and order.paid_at is not None
    assert not order.items.filter(open=True).exists()
    session = ParkingSession.objects.get()
    assert (session.paid_fen, session.due_fen) == (600, 0)
    entry = SessionMoneyEntry.objects.get(kind="payment")
    assert (entry.amount_fen, entry.reference, entry.reason) == (600, order.order_no, "sandbox")
    payment = Payment.objects.get()
    assert (payment.order, payment.channel, payment.transaction_id, payment.amount_fen) == (
        order, "sandbox", f"SBX-{order.order_no}", 600)


def test_a_repeated_notice_is_acknowledged_and_changes_nothing(client, order):
    payload = payment_payload(order)
    _acknowledged(post_notice(client, payload))
    paid = _money()
    for _ in range(3):
        _acknowledged(post_notice(client, payload))  # a fresh signature each time, as a gateway resends
    assert _money() == paid
    assert not PaymentException.objects.exists()


@pytest.mark.parametrize("forge", ["key", "body", "missing", "stale"])
def test_a_forged_notice_is_refused_and_changes_nothing(client, order, forge):
    before = _money()
    payload = payment_payload(order)
    if forge == "key":
        response = post_notice(client, payload, key=b"k" * 32)
    elif forge == "stale":
        response = post_notice(client, payload, timestamp=int(time.time()) - 3600)
    elif forge == "missing":
        response = post_notice(client, payload, headers={"X-Sandbox-Signature": ""})
    else:
        body, headers = sandbox.signed_notice(payload)
        headers.pop("Content-Type")
        tampered = body.replace(b'"amount_fen":600', b'"amount_fen":1')
        response = client.generic("POST", "/payments/notify/sandbox/", tampered, content_type="application/json",
                                  headers=headers)
    _refused(response)
    assert _money() == before
    assert not PaymentException.objects.exists()


def test_a_body_that_is_not_a_notice_is_refused(client):
    body = b"not json"
    ts, nonce = str(int(time.time())), "n" * 16
    headers = {"X-Sandbox-Timestamp": ts, "X-Sandbox-Nonce": nonce,
               "X-Sandbox-Signature": sandbox.signature(ts, nonce, body)}
    _refused(client.generic("POST", "/payments/notify/sandbox/", body, content_type="application/json",
                            headers=headers))


@pytest.mark.parametrize(("change", "problem"), [
    ({"amount_fen": 1}, "amount_mismatch"),
    ({"merchant_id": "SOMEONE-ELSE"}, "wrong_merchant"),
    ({"order_no": "20260101000000AAAAAAAAAAAA"}, "unknown_order"),
])
def test_a_genuine_notice_that_does_not_match_opens_an_exception(client, order, change, problem):
    before = _money()
    _acknowledged(post_notice(client, payment_payload(order, **change)))
    _acknowledged(post_notice(client, payment_payload(order, **change)))  # resent: still one exception
    assert _money() == before
    exception = PaymentException.objects.get()
    assert (exception.problem, exception.state, exception.channel) == (problem, "open", "sandbox")
    assert exception.raw["order_no"] == change.get("order_no", order.order_no)
    assert exception.order == (None if problem == "unknown_order" else order)


def test_paying_what_is_paid_by_another_transaction_opens_an_exception(client, order):
    _acknowledged(post_notice(client, payment_payload(order)))
    paid = _money()
    _acknowledged(post_notice(client, payment_payload(order, transaction_id="SBX-SECOND")))
    assert _money() == paid
    assert PaymentException.objects.get().problem == "paid_twice"


def test_a_payment_for_a_closed_order_opens_an_exception(api_client, client, order):
    api_client.post(f"/api/v1/payments/orders/{order.order_no}/cancel")
    before = _money()
    _acknowledged(post_notice(client, payment_payload(order)))
    assert _money() == before
    assert PaymentException.objects.get().problem == "order_closed"


def test_a_notice_that_is_not_paid_changes_nothing(client, order):
    before = _money()
    _acknowledged(post_notice(client, payment_payload(order, state="pending")))
    assert _money() == before and not PaymentException.objects.exists()


def test_an_unknown_provider_is_not_found(client):
    response = client.post("/payments/notify/nowhere/", b"{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "FAIL"


def test_only_post_is_taken(client):
    assert client.get("/payments/notify/sandbox/").status_code == 405


def test_a_payment_the_sessions_cannot_take_changes_no_order(api_client, client, gate):
    # An arrears order, and the arrears settled some other way before the notice arrives: the
    # sessions service refuses the money, so no order changes and staff are told.

    stay = stay_waiting(gate)
    ParkingSession.objects.filter(pk=stay.pk).update(state="closed")
    arrears = Arrears.objects.create(session=stay, plate=stay.plate, lot=stay.lot, amount_fen=600,
                                     created_at=timezone.now())
    user = UserFactory()
    citizens.register_bound_plates(lambda u: [stay.plate])
    try:
        api_client.force_authenticate(user)
        order_no = api_client.post("/api/v1/payments/orders", {"arrears_ids": [arrears.pk], "channel": "sandbox"},
                                   format="json").json()["order_no"]
    finally:
        citizens.register_bound_plates(None)
    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=600, reason="counter", reference="CASH-1")
    order = Order.objects.get(order_no=order_no)
    before = _money()
    _acknowledged(post_notice(client, payment_payload(order)))
    assert _money() == before
    assert Order.objects.get(pk=order.pk).state == "created"
    assert PaymentException.objects.get().problem == "not_applied"


def test_a_failure_on_our_side_is_refused_so_the_gateway_resends(client, order):
    def broken(provider, notice):  # what handles payment notices fails (the database gone, say)
        raise RuntimeError("database gone")

    notify.register_notice_handler("payment", broken)
    try:
        response = post_notice(client, payment_payload(order))
    finally:
        notify.register_notice_handler("payment", notify._payment)
    assert response.status_code >= 500 and response.json()["code"] == "FAIL"
    assert Order.objects.get(pk=order.pk).state == "created"


def test_the_service_answers_what_it_did(order):
    result = services.PaymentResult(order_no=order.order_no, state="paid", amount_fen=600, transaction_id="T1",
                                    merchant_id="WXP-SANDBOX")
    assert services.payment_result_apply(channel="sandbox", result=result, expected=("WXP-SANDBOX", "")) == "paid"
    assert services.payment_result_apply(channel="sandbox", result=result, expected=("WXP-SANDBOX", "")) == "duplicate"
    other = services.PaymentResult(order_no=order.order_no, state="paid", amount_fen=600, transaction_id="T1",
                                   merchant_id="WXP-SANDBOX")
    assert services.payment_result_apply(channel="wechat", result=other) == "exception"


def test_a_stay_that_became_arrears_while_its_order_was_paid_is_paid_through_the_arrears(api_client, client):
    gate = Gate(flat_lot(allow_pay_later=True))
    stay = gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    order = Order.objects.get(order_no=order_for(api_client, [stay.pk]).json()["order_no"])  # 400 due now
    decision = gate.exit("苏B12345")  # the car leaves first: what it owes becomes arrears
    assert decision["release_reason"] == "pay_later"
    _acknowledged(post_notice(client, payment_payload(order)))
    arrears = Arrears.objects.get(session=stay)
    assert (arrears.paid_fen, arrears.paid_at is not None) == (400, True)
    stay.refresh_from_db()
    assert stay.paid_fen == 0  # not owed twice: the money went to the arrears record
    assert SessionMoneyEntry.objects.get(kind="arrears_payment").reference == order.order_no
    assert Order.objects.get(pk=order.pk).state == "paid"
