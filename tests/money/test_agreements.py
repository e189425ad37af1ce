"""无感支付: signing and ending agreements, and charging a pay-later exit after commit through the
sandbox gateway (paid, refused, confirmed later); a failed charge keeps the arrears owed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEntry
from apps.payments import agreements, providers, sandbox, services
from apps.payments.errors import InvalidChannel
from apps.payments.models import AgreementCharge, Order, PaymentAgreement
from apps.payments.money_errors import AgreementExists, AgreementNotActive, AgreementRefused, NotAllowed
from apps.sessions.models import Arrears
from tests.factories import OperatorFactory
from tests.factories_payments import AgreementFactory, Gate, flat_lot

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


def _leave_first(gate, plate, ref, django_capture_on_commit_callbacks):
    AgreementFactory(plate=plate, provider_ref=ref)
    gate.enter(plate, at=timezone.now() - timedelta(minutes=50))
    with django_capture_on_commit_callbacks(execute=True):  # the charge task runs after the batch commits
        decision = gate.exit(plate)
    assert decision["release_reason"] == "pay_later"
    return Arrears.objects.get(plate=plate)


def test_an_agreed_exit_is_charged_after_commit_and_its_arrears_paid(django_capture_on_commit_callbacks):
    arrears = _leave_first(Gate(flat_lot()), "苏B12345", "AG-OK-1", django_capture_on_commit_callbacks)
    arrears.refresh_from_db()
    charge = AgreementCharge.objects.get()
    assert charge.state == "paid" and charge.order.channel == "sandbox"
    assert (arrears.paid_fen, arrears.paid_at is not None) == (400, True)
    assert charge.order.state == "paid" and charge.order.items.get().arrears == arrears
    # running the task again charges nothing twice
    assert agreements.agreement_charges_run()["queued"] == 0
    assert Order.objects.count() == 1


def test_a_refused_charge_keeps_the_arrears_owed(django_capture_on_commit_callbacks):
    arrears = _leave_first(Gate(flat_lot()), "苏B12345", sandbox.DECLINED_PREFIX + "-1",
                           django_capture_on_commit_callbacks)
    arrears.refresh_from_db()
    charge = AgreementCharge.objects.get()
    assert charge.state == "failed" and arrears.paid_fen == 0 and arrears.paid_at is None
    assert charge.order.state == "closed" and not charge.order.items.filter(open=True).exists()


def test_a_charge_confirmed_later_is_settled_by_the_periodic_check(django_capture_on_commit_callbacks):
    arrears = _leave_first(Gate(flat_lot()), "苏B12345", sandbox.PENDING_PREFIX + "-1",
                           django_capture_on_commit_callbacks)
    charge = AgreementCharge.objects.get()
    assert charge.state == "charging"
    sandbox.trade_pay(charge.order.order_no)
    later = timezone.now() + timedelta(minutes=20)
    services.orders_reconcile(now=later)  # the notice never came: the gateway is asked
    agreements.agreement_charges_run(now=later)
    charge.refresh_from_db()
    arrears.refresh_from_db()
    assert charge.state == "paid" and arrears.paid_at is not None


def test_an_ended_agreement_charges_nothing_and_staff_may_retry(django_capture_on_commit_callbacks, staff_factory,
                                                                city):
    gate = Gate(flat_lot())
    agreement = AgreementFactory(plate="苏B12345", provider_ref="AG-2")
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    gate.exit("苏B12345")  # on_commit not run: the charge is only queued later
    agreements.agreement_end(agreement=agreement)
    agreements.agreement_charges_run()
    charge = AgreementCharge.objects.get()
    assert charge.state == "failed" and charge.order is None
    officer = staff_factory("region", "320213")
    with pytest.raises(agreements.InvalidReason):
        agreements.agreement_charge_retry(charge=charge, actor=officer, reason="")
    agreements.agreement_charge_retry(charge=charge, actor=officer, reason="车主已续约")
    assert AgreementCharge.objects.get().state == "pending"
    assert AuditEntry.objects.filter(action="agreement_charge.retried").exists()


def test_signing_checks_the_gateway_and_one_active_agreement_per_plate(city, staff_factory):
    officer = staff_factory("city")
    agreement = agreements.agreement_sign(plate="苏b·12345", channel="sandbox", provider_ref="AG-9", actor=officer)
    assert (agreement.plate, agreement.state) == ("苏B12345", "active")
    assert AuditEntry.objects.get(action="agreement.signed").changes["plate"] == [None, "苏B12345"]
    with pytest.raises(AgreementExists):
        agreements.agreement_sign(plate="苏B12345", channel="sandbox", provider_ref="AG-10", actor=officer)
    with pytest.raises(AgreementRefused):
        agreements.agreement_sign(plate="苏B54321", channel="sandbox", provider_ref=sandbox.REVOKED_PREFIX + "1")
    with pytest.raises(AgreementRefused) as caught:
        agreements.agreement_sign(plate="苏B54321", channel="sandbox", provider_ref=" ")
    assert caught.value.code == "invalid_agreement_ref"
    with pytest.raises(InvalidChannel):
        agreements.agreement_sign(plate="苏B54321", channel="nope", provider_ref="AG-11")
    assert PaymentAgreement.objects.count() == 1
    agreements.agreement_end(agreement=agreement, actor=officer, reason="车主解约")
    with pytest.raises(AgreementNotActive):
        agreements.agreement_end(agreement=agreement, actor=officer)
    assert providers.get("sandbox").supports_agreements


def test_staff_manage_only_agreements_in_their_scope(city, staff_factory):
    ours, theirs = OperatorFactory(), OperatorFactory()
    agreement = AgreementFactory(plate="苏B12345", operator=theirs)
    with pytest.raises(NotAllowed):
        agreements.agreement_end(agreement=agreement, actor=staff_factory("operator", ours))
    with pytest.raises(NotAllowed):
        agreements.agreement_sign(plate="苏B54321", channel="sandbox", provider_ref="AG-12", operator=theirs,
                                  actor=staff_factory("operator", ours))
    assert PaymentAgreement.objects.get().state == "active"
