"""Session money has one owner (STYLE.md): payments, refunds and arrears payments go through the
sessions services, each change a ledger row, and ingest never writes what it did not decide."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.common.errors import DomainError
from apps.lots.models import ParkingLot
from apps.sessions import selectors
from apps.sessions.models import Arrears, ParkingSession, SessionMoneyEntry
from apps.sessions.services import (
    arrears_apply_payment,
    session_apply_payment,
    session_apply_refund,
)
from tests.factories_sessions import AFTERNOON, entry_event, exit_event

pytestmark = pytest.mark.django_db

NOW = AFTERNOON
State = ParkingSession.State


def at(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


@pytest.fixture
def waiting(record, lot):
    """A session waiting at the barrier: 10 yuan due (see test_sessions)."""
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(exit_event(lot, "苏B12345", at=at(11, 30)))
    return ParkingSession.objects.get()


def _assert_rebuilt(session: ParkingSession) -> None:
    """The stored balances are exactly what the ledger says."""
    session.refresh_from_db()
    rebuilt = selectors.balances_from_ledger(session.pk)
    assert (session.paid_fen, session.waived_fen) == (rebuilt["paid_fen"], rebuilt["waived_fen"])
    stored = {a.pk: {"amount_fen": a.amount_fen, "paid_fen": a.paid_fen}
              for a in Arrears.objects.filter(session=session)}
    assert stored == rebuilt["arrears"]


def test_a_payment_is_a_ledger_row_and_decides_the_due_again(waiting):
    session = session_apply_payment(session_id=waiting.pk, amount_fen=600, reason="wechat", reference="ORDER1")
    assert (session.paid_fen, session.due_fen) == (600, 400)
    entry = SessionMoneyEntry.objects.get()
    assert (entry.kind, entry.amount_fen, entry.reason, entry.reference) == ("payment", 600, "wechat", "ORDER1")
    session_apply_payment(session_id=waiting.pk, amount_fen=400, reason="wechat", reference="ORDER2")
    waiting.refresh_from_db()
    assert (waiting.paid_fen, waiting.due_fen, waiting.state) == (1000, 0, State.AWAITING_PAYMENT)
    _assert_rebuilt(waiting)


def test_the_same_payment_notice_twice_pays_once(waiting):
    for _ in range(2):
        session_apply_payment(session_id=waiting.pk, amount_fen=1000, reason="wechat", reference="ORDER1")
    waiting.refresh_from_db()
    assert waiting.paid_fen == 1000
    assert SessionMoneyEntry.objects.count() == 1


def test_after_a_payment_the_next_exit_releases_as_paid(record, lot, waiting):
    session_apply_payment(session_id=waiting.pk, amount_fen=1000, reason="wechat", reference="ORDER1")
    session = record(exit_event(lot, "苏B12345", at=at(11, 40)))["results"][0]["session"]
    assert (session["release"], session["release_reason"], session["paid_fen"], session["due_fen"]) == (
        True, "paid", 1000, 0)
    _assert_rebuilt(waiting)


def test_a_payment_before_the_exit_is_kept_by_the_exit(record, lot):
    record(entry_event(lot, "苏B12345", at=at(10)))
    opened = ParkingSession.objects.get()
    session_apply_payment(session_id=opened.pk, amount_fen=400, reason="prepaid")
    session = record(exit_event(lot, "苏B12345", at=at(11, 30)))["results"][0]["session"]
    assert (session["amount_fen"], session["paid_fen"], session["due_fen"], session["release"]) == (1000, 400, 600,
                                                                                                    False)
    opened.refresh_from_db()
    assert (opened.paid_fen, opened.due_fen) == (400, 600)


def test_ingest_never_writes_paid_fen(record, lot, waiting):
    """The exit's UPDATE of the session it changed does not name paid_fen: a payment is never
    overwritten by ingest, whatever it read."""
    with CaptureQueriesContext(connection) as queries:
        record(exit_event(lot, "苏B12345", at=at(11, 40)))
    updates = [q["sql"] for q in queries.captured_queries
               if q["sql"].lstrip().upper().startswith("UPDATE") and "parkingsession" in q["sql"].lower()]
    assert updates, "the exit changes the session"
    assert not [sql for sql in updates if "paid_fen" in sql]


def test_a_refund_lowers_paid_and_raises_the_due(waiting):
    session_apply_payment(session_id=waiting.pk, amount_fen=1000, reason="wechat", reference="ORDER1")
    session = session_apply_refund(session_id=waiting.pk, amount_fen=300, reason="complaint", reference="RF1")
    assert (session.paid_fen, session.due_fen) == (700, 300)
    session_apply_refund(session_id=waiting.pk, amount_fen=300, reason="complaint", reference="RF1")
    waiting.refresh_from_db()
    assert waiting.paid_fen == 700
    _assert_rebuilt(waiting)


def test_a_refund_larger_than_what_was_paid_is_refused(waiting):
    session_apply_payment(session_id=waiting.pk, amount_fen=100, reason="wechat")
    with pytest.raises(DomainError) as caught:
        session_apply_refund(session_id=waiting.pk, amount_fen=101, reason="complaint")
    assert (caught.value.code, caught.value.status, caught.value.details["paid_fen"]) == ("refund_exceeds_paid",
                                                                                          409, 100)
    waiting.refresh_from_db()
    assert waiting.paid_fen == 100


@pytest.mark.parametrize(("amount", "reason", "code"), [
    (0, "wechat", "invalid_amount"),
    (-5, "wechat", "invalid_amount"),
    (1.5, "wechat", "invalid_amount"),
    (True, "wechat", "invalid_amount"),
    (2**31, "wechat", "invalid_amount"),
    (100, "", "invalid_reason"),
    (100, "  ", "invalid_reason"),
])
def test_bad_payments_are_refused_with_a_stable_code(waiting, amount, reason, code):
    with pytest.raises(DomainError) as caught:
        session_apply_payment(session_id=waiting.pk, amount_fen=amount, reason=reason)
    assert caught.value.code == code
    assert not SessionMoneyEntry.objects.exists()


def test_paying_an_unknown_session_is_not_found(db):
    with pytest.raises(DomainError) as caught:
        session_apply_payment(session_id=999999, amount_fen=100, reason="wechat")
    assert (caught.value.code, caught.value.status) == ("session_not_found", 404)


def test_arrears_from_pay_later_are_in_the_ledger_and_paid_through_their_service(record, lot):
    ParkingLot.objects.filter(pk=lot.pk).update(allow_pay_later=True)
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(exit_event(lot, "苏B12345", at=at(11, 30)))
    arrears = Arrears.objects.get()
    opened = SessionMoneyEntry.objects.get()
    assert (opened.kind, opened.amount_fen, opened.arrears_id, opened.reason) == (
        "arrears", 1000, arrears.pk, "lot_allows_pay_later")
    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=400, reason="wechat", reference="A1", now=at(15))
    arrears.refresh_from_db()
    assert (arrears.paid_fen, arrears.paid_at) == (400, None)
    with pytest.raises(DomainError) as caught:
        arrears_apply_payment(arrears_id=arrears.pk, amount_fen=601, reason="wechat")
    assert (caught.value.code, caught.value.details["owed_fen"]) == ("payment_exceeds_arrears", 600)
    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=400, reason="wechat", reference="A1")  # again: once
    arrears_apply_payment(arrears_id=arrears.pk, amount_fen=600, reason="wechat", reference="A2", now=at(16))
    arrears.refresh_from_db()
    assert (arrears.paid_fen, arrears.paid_at) == (1000, at(16))
    assert Arrears.objects.unpaid().count() == 0
    _assert_rebuilt(arrears.session)


def test_paying_unknown_arrears_is_not_found(db):
    with pytest.raises(DomainError) as caught:
        arrears_apply_payment(arrears_id=999999, amount_fen=100, reason="wechat")
    assert (caught.value.code, caught.value.status) == ("arrears_not_found", 404)


def test_driving_away_from_an_unpaid_wait_owes_what_is_left_after_a_part_payment(record, lot, waiting):
    session_apply_payment(session_id=waiting.pk, amount_fen=300, reason="wechat")
    record(entry_event(lot, "苏B12345", at=at(12)))  # it left unseen and came back
    arrears = Arrears.objects.get()
    assert arrears.amount_fen == 700
    entry = SessionMoneyEntry.objects.get(kind="arrears")
    assert (entry.amount_fen, entry.reason) == (700, "left_without_paying")
    _assert_rebuilt(waiting)


def test_the_migration_explains_balances_written_before_the_ledger(record, lot):
    import importlib

    from django.apps import apps

    ParkingLot.objects.filter(pk=lot.pk).update(allow_pay_later=True)
    record(entry_event(lot, "苏B12345", at=at(10)))
    record(exit_event(lot, "苏B12345", at=at(11, 30)))
    record(entry_event(lot, "苏B54321", at=at(10)))
    # Balances as they stood before the ledger: written straight to the rows, no entries.
    SessionMoneyEntry.objects.all().delete()
    ParkingSession.objects.filter(plate="苏B54321").update(paid_fen=300)
    Arrears.objects.update(paid_at=at(15))
    migration = importlib.import_module("apps.sessions.migrations.0003_session_money_ledger_and_tariff_version")
    migration.ledger_from_balances(apps, None)
    for session in ParkingSession.objects.all():
        _assert_rebuilt(session)
    assert Arrears.objects.get().paid_fen == 1000
