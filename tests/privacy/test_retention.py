"""Issue 12 item 4, retention: a settled stay past SESSION_PLATE_RETENTION_DAYS keeps its times but
its plate (and its events', and its paid arrears') becomes a salted hash; money still owed keeps it."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.payments.models import Order, OrderItem
from apps.sessions import retention
from apps.sessions.models import Arrears, IngestEvent, ParkingSession
from apps.sessions.services import arrears_apply_payment
from tests.factories import LotFactory
from tests.factories_sessions import SessionFactory

pytestmark = pytest.mark.django_db

OLD = timedelta(days=200)  # past the default 180 days
RECENT = timedelta(days=10)


@pytest.fixture
def lot():
    return LotFactory()


def stay(lot, plate: str, *, ended: timedelta = OLD, **fields) -> ParkingSession:
    closed = timezone.now() - ended
    defaults = {"state": ParkingSession.State.CLOSED, "release_reason": ParkingSession.ReleaseReason.PAID,
                "entry_at": closed - timedelta(hours=2), "exit_at": closed, "closed_at": closed,
                "amount_fen": 600, "paid_fen": 600}
    return SessionFactory(lot=lot, plate=plate, **{**defaults, **fields})


def event(session: ParkingSession, type_: str = "exit", *, plate: str | None = None, at=None) -> IngestEvent:
    plate = plate or session.plate
    at = at or session.exit_at
    return IngestEvent.objects.create(
        lot=session.lot if session else None, event_id=uuid.uuid4().hex, type=type_, occurred_at=at, received_at=at,
        batch=uuid.uuid4(), plate=plate, session=session,
        payload={"event_id": "e", "type": type_, "plate": plate.lower(), "lot_code": "X", "gate": "G1"})


def owed_arrears(session: ParkingSession, amount: int = 400) -> Arrears:
    ParkingSession.objects.filter(pk=session.pk).update(due_fen=amount, paid_fen=session.paid_fen - amount)
    return Arrears.objects.create(session=session, plate=session.plate, lot=session.lot, amount_fen=amount,
                                  created_at=session.closed_at)


def open_order(session: ParkingSession, *, arrears: Arrears | None = None) -> Order:
    now = timezone.now()
    order = Order.objects.create(order_no=uuid.uuid4().hex[:24], channel="sandbox", amount_fen=400,
                                 plate=session.plate, created_at=now, expires_at=now + timedelta(minutes=15))
    OrderItem.objects.create(order=order, kind="arrears" if arrears else "session", lot=session.lot,
                             session=None if arrears else session, arrears=arrears, amount_fen=400)
    return order


def plate_of(obj) -> str:
    obj.refresh_from_db()
    return obj.plate


def test_the_hash_is_salted_hmac_prefixed_and_fits_every_plate_column(settings):
    hashed = retention.plate_hash("苏B12345")
    assert hashed.startswith("#") and len(hashed) == 16 and retention.is_hashed(hashed)
    assert hashed == retention.plate_hash("苏b·12345")  # normalised first
    assert hashed != retention.plate_hash("苏B12346")
    assert hashed != retention.plate_hash("苏B12345", salt="another salt")
    settings.PLATE_HASH_SALT = "another salt"
    assert retention.plate_hash("苏B12345") == retention.plate_hash("苏B12345", salt="another salt")
    assert ParkingSession._meta.get_field("plate").max_length >= len(hashed)
    assert IngestEvent._meta.get_field("plate").max_length >= len(hashed)
    assert Arrears._meta.get_field("plate").max_length >= len(hashed)


def test_an_old_settled_stay_is_hashed_with_its_events_and_payload_copies_and_keeps_its_times(lot):
    old = stay(lot, "苏B10001")
    entry, exit_ = event(old, "entry", at=old.entry_at), event(old)
    before = ParkingSession.objects.values("entry_at", "exit_at", "amount_fen", "paid_fen", "lot_id").get(pk=old.pk)

    result = retention.purge_plates()

    hashed = retention.plate_hash("苏B10001")
    assert plate_of(old) == hashed
    assert ParkingSession.objects.values("entry_at", "exit_at", "amount_fen", "paid_fen", "lot_id").get(
        pk=old.pk) == before
    for ev in (entry, exit_):
        ev.refresh_from_db()
        assert ev.plate == hashed and ev.payload["plate"] == hashed and ev.payload["gate"] == "G1"
    assert (result.sessions, result.events) == (1, 2)
    assert not ParkingSession.objects.filter(plate="苏B10001").exists()


def test_owed_money_keeps_the_plate_recent_stays_too_and_a_rerun_changes_nothing(lot):
    settled = stay(lot, "苏B20001")
    recent = stay(lot, "苏B20002", ended=RECENT)
    due = stay(lot, "苏B20003", due_fen=200, paid_fen=400)  # waiting to be paid, no arrears record
    in_arrears = stay(lot, "苏B20004")
    owed_arrears(in_arrears)
    in_order = stay(lot, "苏B20005", due_fen=0)
    open_order(in_order)
    arrears_in_order = stay(lot, "苏B20006")
    open_order(arrears_in_order, arrears=owed_arrears(arrears_in_order))
    parked = stay(lot, "苏B20007", state=ParkingSession.State.OPEN, closed_at=None, exit_at=None,
                  entry_at=timezone.now() - OLD, paid_fen=0, amount_fen=0)
    kept_events = [event(s) for s in (recent, due, in_arrears, in_order)]

    first = retention.purge_plates()

    assert plate_of(settled) == retention.plate_hash("苏B20001")
    for kept, plate in ((recent, "苏B20002"), (due, "苏B20003"), (in_arrears, "苏B20004"), (in_order, "苏B20005"),
                        (arrears_in_order, "苏B20006"), (parked, "苏B20007")):
        assert plate_of(kept) == plate
    assert all(not retention.is_hashed(plate_of(e)) for e in kept_events)
    assert first.sessions == 1

    second = retention.purge_plates()
    assert (second.sessions, second.events, second.arrears) == (0, 0, 0)
    assert plate_of(settled) == retention.plate_hash("苏B20001")


def test_arrears_paid_later_are_hashed_on_the_next_run_with_the_arrears_record(lot):
    old = stay(lot, "苏B30001")
    debt = owed_arrears(old, amount=400)
    event(old)
    retention.purge_plates()
    assert plate_of(old) == "苏B30001" and plate_of(debt) == "苏B30001"

    arrears_apply_payment(arrears_id=debt.pk, amount_fen=400, reason="补缴", reference="ORDER-1")
    result = retention.purge_plates()

    hashed = retention.plate_hash("苏B30001")
    assert plate_of(old) == hashed and plate_of(debt) == hashed
    assert (result.sessions, result.arrears, result.events) == (1, 1, 1)


def test_an_order_closed_unpaid_no_longer_holds_the_plate(lot):
    old = stay(lot, "苏B40001")
    order = open_order(old)
    retention.purge_plates()
    assert plate_of(old) == "苏B40001"
    OrderItem.objects.filter(order=order).update(open=False)
    retention.purge_plates()
    assert plate_of(old) == retention.plate_hash("苏B40001")


def test_events_without_a_stay_are_hashed_by_age(lot):
    at = timezone.now() - OLD
    loose = IngestEvent.objects.create(lot=lot, event_id="berth-1", type="berth_occupied", occurred_at=at,
                                       received_at=at, batch=uuid.uuid4(), plate="苏B50001",
                                       payload={"plate": "苏B50001", "berth_code": "A1"})
    fresh = IngestEvent.objects.create(lot=lot, event_id="berth-2", type="berth_occupied",
                                       occurred_at=timezone.now(), received_at=timezone.now(), batch=uuid.uuid4(),
                                       plate="苏B50002", payload={"plate": "苏B50002"})
    retention.purge_plates()
    loose.refresh_from_db()
    assert loose.plate == retention.plate_hash("苏B50001") and loose.payload == {
        "plate": loose.plate, "berth_code": "A1"}
    assert plate_of(fresh) == "苏B50002"


def test_batches_are_bounded_and_a_capped_run_leaves_the_rest_for_the_next(lot):
    stays = [stay(lot, f"苏B6000{n}") for n in range(5)]
    first = retention.purge_plates(batch_size=2, max_batches=2)
    assert (first.sessions, first.batches) == (4, 2)
    assert sum(retention.is_hashed(plate_of(s)) for s in stays) == 4
    rest = retention.purge_plates(batch_size=2)
    assert rest.sessions == 1 and all(retention.is_hashed(plate_of(s)) for s in stays)


def test_the_period_is_the_setting(lot, settings):
    kept = stay(lot, "苏B70001", ended=timedelta(days=40))
    settings.SESSION_PLATE_RETENTION_DAYS = 60
    retention.purge_plates()
    assert plate_of(kept) == "苏B70001"
    settings.SESSION_PLATE_RETENTION_DAYS = 30
    retention.purge_plates()
    assert retention.is_hashed(plate_of(kept))


def test_the_command_and_the_periodic_task(lot, settings):
    from apps.sessions.tasks import purge_plates

    first, second = stay(lot, "苏B80001"), stay(lot, "苏B80002", ended=timedelta(days=40))
    out = io.StringIO()
    call_command("purge_plates", "--days", "100", stdout=out)
    assert json.loads(out.getvalue()) == {"sessions": 1, "events": 0, "arrears": 0, "batches": 1}
    assert retention.is_hashed(plate_of(first)) and plate_of(second) == "苏B80002"
    settings.SESSION_PLATE_RETENTION_DAYS = 30
    assert purge_plates.delay().get() == {"sessions": 1, "events": 0, "arrears": 0}
    assert retention.is_hashed(plate_of(second))
    assert settings.CELERY_BEAT_SCHEDULE["purge-plates"]["task"] == "apps.sessions.tasks.purge_plates"


def test_the_command_refuses_a_period_below_one_day():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days"):
        call_command("purge_plates", "--days", "0")


def test_staff_still_find_a_hashed_plate_by_typing_it(lot, client, django_user_model):
    old = stay(lot, "苏B90001")
    retention.purge_plates()
    admin = django_user_model.objects.create_superuser("auditor", password="pass-Wuxi-2026")
    client.force_login(admin)
    response = client.get("/admin/parking_sessions/parkingsession/", {"q": "苏b 90001"})
    assert response.status_code == 200
    assert [s.pk for s in response.context["cl"].result_list] == [old.pk]
    assert retention.plate_match_values("苏b90001") == ["苏B90001", retention.plate_hash("苏B90001")]
