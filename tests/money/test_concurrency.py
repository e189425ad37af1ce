"""Money races on PostgreSQL with real threads: two approvers at once approve once; refunds racing
on one order never together exceed what was paid."""

from __future__ import annotations

import pytest

from apps.common.errors import DomainError
from apps.payments import refunds
from apps.payments.models import Refund
from tests.factories_money import PolicyFactory, paid_order
from tests.factories_payments import Gate, flat_lot, stay_waiting
from tests.threads import run_together as _run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.midday]


def _attempt(call):
    def run():
        try:
            call()
        except DomainError as exc:
            return exc.code
        return "ok"
    return run


def test_two_approvers_at_once_approve_once(city, staff_factory):
    PolicyFactory(refund_approval_over_fen=100)
    order = paid_order(stay_waiting(Gate(flat_lot())))
    asker, *approvers = (staff_factory("region", "320213") for _ in range(5))
    refund = refunds.refund_request(order=order, amount_fen=600, reason="误收", actor=asker)
    results = _run_together([_attempt(lambda a=a: refunds.refund_approve(refund=refund, actor=a)) for a in approvers])
    assert sorted(results) == ["ok"] + ["refund_not_awaiting_approval"] * 3
    refund.refresh_from_db()
    order.refresh_from_db()
    stay = order.items.get().session
    assert refund.state == "succeeded" and order.refunded_fen == 600
    assert (stay.paid_fen, stay.due_fen) == (0, 600)
    assert stay.money_entries.filter(kind="refund").count() == 1


def test_refunds_racing_on_one_order_never_exceed_what_was_paid(city, staff_factory):
    PolicyFactory(refund_approval_over_fen=10_000)  # each is its own approval and is sent at once
    order = paid_order(stay_waiting(Gate(flat_lot())))  # 600 fen
    staff = [staff_factory("region", "320213") for _ in range(6)]
    results = _run_together([_attempt(lambda s=s: refunds.refund_request(order=order, amount_fen=250, reason="多收",
                                                                       actor=s)) for s in staff])
    assert sorted(results) == ["ok", "ok"] + ["refund_exceeds_paid"] * 4
    order.refresh_from_db()
    stay = order.items.get().session
    assert order.refunded_fen == 500 and order.state == "partially_refunded"
    assert sum(r.amount_fen for r in Refund.objects.filter(state="succeeded")) == 500
    assert (stay.paid_fen, stay.due_fen) == (100, 500)



def test_two_charge_runs_at_once_charge_a_pay_later_exit_once():
    from django.utils import timezone

    from apps.payments import agreements
    from apps.payments.models import AgreementCharge, Order
    from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
    from tests.factories_payments import AgreementFactory

    stay = stay_waiting(Gate(flat_lot()), "苏B12345")
    agreement = AgreementFactory(plate="苏B12345", provider_ref="AG-RACE")  # as a pay-later exit leaves it:
    ParkingSession.objects.filter(pk=stay.pk).update(state="closed", release_reason="pay_later")
    arrears = Arrears.objects.create(session=stay, plate=stay.plate, lot=stay.lot, amount_fen=600,
                                     created_at=timezone.now())
    SessionMoneyEntry.objects.create(session=stay, arrears=arrears, kind="arrears", amount_fen=600,
                                     reason="payment_agreement", reference=f"agreement:{agreement.pk}",
                                     created_at=timezone.now())
    results = _run_together([agreements.agreement_charges_run] * 4)
    assert sum(r.get("paid", 0) for r in results) == 1, results
    arrears.refresh_from_db()
    assert (arrears.paid_fen, AgreementCharge.objects.get().state) == (600, "paid")
    assert Order.objects.filter(state="paid").count() == 1
    assert arrears.money_entries.filter(kind="arrears_payment").count() == 1
