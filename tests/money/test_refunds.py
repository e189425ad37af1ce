"""Refunds: by staff with a reason, through the provider after commit; above the threshold a second
approver; the session's paid and due follow; every refusal has its code and moves no money."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEntry
from apps.payments import refunds, sandbox
from apps.payments.models import Order, Refund, SandboxTrade
from apps.payments.providers.base import RefundResult
from apps.sessions.models import SessionMoneyEntry
from tests.factories import OperatorFactory
from tests.factories_money import PolicyFactory, paid_order
from tests.factories_payments import Gate, flat_lot, stay_waiting

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


@pytest.fixture
def paid(city):
    PolicyFactory(refund_approval_over_fen=300)
    stay = stay_waiting(Gate(flat_lot()))  # 600 fen
    return paid_order(stay), stay


@pytest.fixture
def staff(staff_factory):
    return staff_factory("region", "320213"), staff_factory("region", "320213")


def test_a_small_refund_is_its_own_approval_and_the_session_follows(paid, staff, django_capture_on_commit_callbacks):
    order, stay = paid
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_request(order=order, amount_fen=200, reason="多收", actor=staff[0])
    refund.refresh_from_db()
    order.refresh_from_db()
    stay.refresh_from_db()
    assert refund.state == "succeeded" and refund.provider_refund_id.startswith("SBR")
    assert (order.state, order.refunded_fen) == ("partially_refunded", 200)
    assert (stay.paid_fen, stay.due_fen) == (400, 200)
    assert SessionMoneyEntry.objects.get(kind="refund").reference == refund.refund_no
    assert SandboxTrade.objects.get(order_no=order.order_no).refunded_fen == 200
    assert AuditEntry.objects.filter(action="refund.requested").count() == 1


def test_a_refund_above_the_threshold_waits_for_a_second_approver(paid, staff, django_capture_on_commit_callbacks):
    order, _stay = paid
    refund = refunds.refund_request(order=order, amount_fen=600, reason="误收", actor=staff[0])
    assert refund.state == "requested"
    with pytest.raises(refunds.SecondApproverRequired):
        refunds.refund_approve(refund=refund, actor=staff[0])
    assert Refund.objects.get().state == "requested"
    with django_capture_on_commit_callbacks(execute=True):
        refunds.refund_approve(refund=refund, actor=staff[1])
    order.refresh_from_db()
    assert (order.state, order.refunded_fen) == ("refunded", 600)
    assert Refund.objects.get().approved_by == staff[1]
    with pytest.raises(refunds.RefundNotAwaiting):
        refunds.refund_approve(refund=refund, actor=staff[1])
    assert AuditEntry.objects.filter(action="refund.approved").count() == 1


def test_rejected_refund_gives_nothing_back(paid, staff):
    order, _stay = paid
    refund = refunds.refund_request(order=order, amount_fen=600, reason="误收", actor=staff[0])
    with pytest.raises(refunds.InvalidReason):
        refunds.refund_reject(refund=refund, actor=staff[1], reason=" ")
    refunds.refund_reject(refund=refund, actor=staff[1], reason="核实无误")
    order.refresh_from_db()
    assert (Refund.objects.get().state, order.refunded_fen, order.state) == ("rejected", 0, "paid")
    # what a rejection frees may be asked for again
    assert refunds.refund_request(order=order, amount_fen=600, reason="复核后退款", actor=staff[0]).state == "requested"


@pytest.mark.parametrize(("amount", "reason", "error"), [
    (0, "x", refunds.RefundInvalid), (-5, "x", refunds.RefundInvalid), (True, "x", refunds.RefundInvalid),
    (100, "", refunds.InvalidReason), (601, "x", refunds.RefundExceedsPaid),
])
def test_bad_refunds_are_refused_with_their_code(paid, staff, amount, reason, error):
    order, stay = paid
    with pytest.raises(error) as caught:
        refunds.refund_request(order=order, amount_fen=amount, reason=reason, actor=staff[0])
    assert caught.value.code in {"invalid_amount", "invalid_reason", "refund_exceeds_paid"}
    assert not Refund.objects.exists()
    stay.refresh_from_db()
    assert stay.paid_fen == 600


def test_refunds_together_never_exceed_what_was_paid(paid, staff):
    order, _stay = paid
    refunds.refund_request(order=order, amount_fen=400, reason="a", actor=staff[0])
    with pytest.raises(refunds.RefundExceedsPaid) as caught:
        refunds.refund_request(order=order, amount_fen=201, reason="b", actor=staff[0])
    assert caught.value.details["refundable_fen"] == 200


def test_an_unpaid_order_and_staff_outside_its_region_are_refused(city, staff_factory):
    PolicyFactory()
    stay = stay_waiting(Gate(flat_lot()))
    from apps.payments import services

    order, _ = services.order_create(channel="sandbox", session_ids=[stay.pk], notify_base="http://testserver")
    with pytest.raises(refunds.OrderNotPaid):
        refunds.refund_request(order=order, amount_fen=100, reason="x", actor=staff_factory("region", "320213"))
    paid = paid_order(stay_waiting(Gate(flat_lot()), "苏B22222"))
    for outsider in (staff_factory("region", "320211"), staff_factory("operator", OperatorFactory())):
        with pytest.raises(refunds.NotAllowed):
            refunds.refund_request(order=paid, amount_fen=100, reason="x", actor=outsider)
    assert not Refund.objects.exists()


def test_a_refund_notice_repeated_changes_nothing_and_a_wrong_amount_moves_no_money(paid, staff):
    order, stay = paid
    refund = refunds.refund_request(order=order, amount_fen=600, reason="误收", actor=staff[0])
    refunds.refund_approve(refund=refund, actor=staff[1])  # on_commit not run: the answer comes by notice
    Refund.objects.filter(pk=refund.pk).update(state="processing")
    wrong = RefundResult(refund_no=refund.refund_no, state="succeeded", refund_id="X1", amount_fen=500)
    assert refunds.refund_result_apply(channel="sandbox", result=wrong) == refunds.FAILED
    stay.refresh_from_db()
    assert stay.paid_fen == 600 and order.exceptions.filter(problem="amount_mismatch").exists()
    right = RefundResult(refund_no=refund.refund_no, state="succeeded", refund_id="X1", amount_fen=600)
    assert refunds.refund_result_apply(channel="sandbox", result=right) == refunds.SUCCEEDED
    assert refunds.refund_result_apply(channel="sandbox", result=right) == refunds.DUPLICATE
    stay.refresh_from_db()
    assert (stay.paid_fen, stay.due_fen) == (0, 600)
    assert Order.objects.get().refunded_fen == 600


def test_a_gateway_refusal_fails_the_refund_and_keeps_the_money(paid, staff, django_capture_on_commit_callbacks):
    order, stay = paid
    sandbox.trade_refund(order_no=order.order_no, refund_no="OUTSIDE", amount_fen=600)  # the gateway has none left
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.refund_request(order=order, amount_fen=100, reason="多收", actor=staff[0])
    refund.refresh_from_db()
    stay.refresh_from_db()
    assert refund.state == "failed" and stay.paid_fen == 600
    assert Order.objects.get().refunded_fen == 0


def test_an_arrears_payment_is_refunded_online_through_the_same_path(city, staff,
                                                                     django_capture_on_commit_callbacks):
    from apps.common import citizens
    from apps.sessions.models import Arrears
    from apps.sessions.selectors import balances_from_ledger
    from tests.factories import UserFactory
    from tests.factories_money import arrears_of, paid_arrears_order

    PolicyFactory(refund_approval_over_fen=300)
    arrears = arrears_of(Gate(flat_lot()), "苏B33333")
    user = UserFactory()
    citizens.register_bound_plates(lambda u: ["苏B33333"])
    try:
        order = paid_arrears_order([arrears], user=user)
    finally:
        citizens.register_bound_plates(None)
    arrears.refresh_from_db()
    assert arrears.paid_fen == arrears.amount_fen == 600 and arrears.paid_at is not None
    with pytest.raises(refunds.RefundExceedsPaid):
        refunds.refund_request(order=order, amount_fen=601, reason="多收", actor=staff[0])
    refund = refunds.refund_request(order=order, amount_fen=400, reason="欠费认定有误", actor=staff[0])
    assert refund.state == "requested"  # above the policy's threshold: a second member of staff approves
    with pytest.raises(refunds.SecondApproverRequired):
        refunds.refund_approve(refund=refund, actor=staff[0])
    with django_capture_on_commit_callbacks(execute=True):
        refunds.refund_approve(refund=refund, actor=staff[1])
    refund.refresh_from_db()
    order.refresh_from_db()
    arrears = Arrears.objects.get(pk=arrears.pk)
    assert refund.state == "succeeded"
    assert (order.state, order.refunded_fen) == ("partially_refunded", 400)
    assert (arrears.paid_fen, arrears.paid_at) == (200, None)  # owed again, as the refund says
    entry = SessionMoneyEntry.objects.get(kind="arrears_refund")
    assert (entry.arrears_id, entry.amount_fen, entry.reference) == (arrears.pk, 400, refund.refund_no)
    assert balances_from_ledger(arrears.session_id)["arrears"][arrears.pk]["paid_fen"] == 200
    assert SandboxTrade.objects.get(order_no=order.order_no).refunded_fen == 400


def test_refund_notices_at_the_callback_are_applied_once_and_forged_ones_refused(client, paid, staff):
    from tests.factories_payments import post_notice

    order, stay = paid
    refund = refunds.refund_request(order=order, amount_fen=600, reason="误收", actor=staff[0])
    refunds.refund_approve(refund=refund, actor=staff[1])  # the gateway's answer comes by notice
    notice = {"id": "NR1", "event": "refund", "refund_no": refund.refund_no, "refund_id": "SBR-1",
              "amount_fen": 600, "state": "succeeded"}
    forged = post_notice(client, notice, key=b"not the gateway's key")
    assert forged.status_code == 400 and Refund.objects.get().state == "approved"
    for _ in range(2):
        response = post_notice(client, notice)
        assert response.status_code == 200, response.content
    stay.refresh_from_db()
    assert (Refund.objects.get().state, stay.paid_fen) == ("succeeded", 0)
    assert SessionMoneyEntry.objects.filter(kind="refund").count() == 1


def test_a_refund_rolled_back_with_its_transaction_never_reaches_the_gateway(paid, staff,
                                                                            django_capture_on_commit_callbacks):
    from django.db import transaction

    order, _stay = paid
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        refunds.refund_request(order=order, amount_fen=100, reason="多收", actor=staff[0])
        raise RuntimeError("the caller failed after asking")
    assert callbacks == [] and not Refund.objects.exists()
    assert SandboxTrade.objects.get(order_no=order.order_no).refunded_fen == 0
