"""The payments app's release-port answer: a plate with an active payment agreement leaves first
(``pay_later``) and what it owes becomes arrears the agreement's charge settles; one query a batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.payments.release import AgreementCover
from apps.sessions import release
from apps.sessions.models import Arrears
from tests.factories import OperatorFactory
from tests.factories_payments import AgreementFactory, Gate, flat_lot

pytestmark = [pytest.mark.django_db, pytest.mark.midday]


def test_the_cover_is_registered_when_the_app_is_ready():
    assert any(isinstance(p, AgreementCover) for p in release.release_providers())


def test_an_agreed_plate_leaves_first_and_owes_arrears():
    gate = Gate(flat_lot())
    agreement = AgreementFactory(plate="苏B12345")
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    decision = gate.exit("苏B12345")
    assert (decision["release"], decision["release_reason"]) == (True, "pay_later")
    arrears = Arrears.objects.get()
    assert arrears.amount_fen == 400
    assert arrears.money_entries.get().reference == f"agreement:{agreement.pk}"


def test_an_agreement_limited_to_an_operator_covers_only_its_lots():
    ours, theirs = OperatorFactory(), OperatorFactory()
    AgreementFactory(plate="苏B12345", operator=ours)
    own, other = Gate(flat_lot(operator=ours)), Gate(flat_lot(operator=theirs))
    for gate in (own, other):
        gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    assert own.exit("苏B12345")["release_reason"] == "pay_later"
    assert other.exit("苏B12345")["release_reason"] == "unpaid"


@pytest.mark.parametrize("state", ["suspended", "terminated"])
def test_an_agreement_not_in_force_covers_nothing(state):
    gate = Gate(flat_lot())
    AgreementFactory(plate="苏B12345", state=state)
    gate.enter("苏B12345", at=timezone.now() - timedelta(minutes=50))
    assert gate.exit("苏B12345")["release_reason"] == "unpaid"


def test_a_batch_is_answered_in_one_query():
    lots = [flat_lot(operator=OperatorFactory()) for _ in range(3)]
    for n in range(5):
        AgreementFactory(plate=f"苏B1000{n}", operator=lots[n % 3].operator if n % 2 else None)
    exits = [release.ExitQuery(lots[n % 3].pk, f"苏B1000{n}", timezone.now()) for n in range(8)]
    with CaptureQueriesContext(connection) as queries:
        covers = AgreementCover().at_exit(exits)
    assert len(queries) == 1
    assert {q.plate for q in covers} == {f"苏B1000{n}" for n in range(5)}
