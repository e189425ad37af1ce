"""Concurrent ingest on PostgreSQL, with real threads and real HTTP requests through the stack:
counts never drift, a duplicate racing itself is stored once, a plate never has two open sessions."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from apps.lots.fees import SHANGHAI
from apps.lots.models import ParkingLot
from apps.sessions.models import IngestEvent, ParkingSession, SessionMoneyEntry
from apps.sessions.services import events_record, session_apply_payment
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, event, exit_event, signed_post
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _poster(device, secret, batches):
    def post_all():
        client = Client()
        bodies = []
        for events in batches:
            response = signed_post(client, device, secret, {"events": events})
            assert response.status_code == 200, response.content
            bodies.append(response.json())
        return bodies
    return post_all


def test_devices_posting_at_once_never_make_counts_drift():
    # No tariff: every exit is free and released, so each entry takes a berth and each exit gives one back.
    a = LotFactory(total_berths=2000, free_berths=2000, tariff=None)
    b = LotFactory(total_berths=2000, free_berths=2000, tariff=None)
    before = timezone.now() - timedelta(hours=1)
    jobs, expected = [], Counter()
    for n, letter in enumerate("ACDE"):
        device, secret = DeviceFactory.issue(lots=[a, b], name=f"设备{letter}")
        lots = (a, b) if n % 2 else (b, a)  # opposite orders: lots are locked by id, so no deadlock
        batches = []
        for round_ in range(6):
            plates = [f"苏{letter}{round_:02d}{i:03d}" for i in range(20)]
            events = [entry_event(lots[i % 2], p, at=before) for i, p in enumerate(plates)]
            if round_:
                previous = [f"苏{letter}{round_ - 1:02d}{i:03d}" for i in range(0, 20, 2)]  # half leave
                events += [exit_event(lots[i % 2], p) for i, p in zip(range(0, 20, 2), previous, strict=True)]
            batches.append(events)
            for sent in events:
                lot = a if sent["lot_code"] == a.code else b
                expected[lot.pk] += -1 if sent["type"] == "entry" else 1
        jobs.append(_poster(device, secret, batches))
    bodies = [body for bodies in run_together(jobs) for body in bodies]
    assert sum(body["rejected"] for body in bodies) == 0
    for lot in (a, b):
        lot.refresh_from_db()
        assert lot.free_berths == 2000 + expected[lot.pk]
    total_entries = 4 * 6 * 20
    assert ParkingSession.objects.count() == total_entries
    assert ParkingSession.objects.filter(state="open").count() == total_entries - 4 * 5 * 10


def test_the_same_events_racing_from_two_threads_are_stored_once():
    lot = LotFactory(total_berths=500, free_berths=500, tariff=None)
    device, secret = DeviceFactory.issue(lots=[lot])
    events = [entry_event(lot, f"苏B5{i:04d}") for i in range(50)]
    bodies = [bodies[0] for bodies in run_together([_poster(device, secret, [events])] * 3)]
    assert sum(body["accepted"] for body in bodies) == 50
    assert sum(body["duplicates"] for body in bodies) == 100
    assert IngestEvent.objects.count() == 50
    assert ParkingSession.objects.count() == 50
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 450


def test_the_same_events_racing_in_opposite_orders_neither_deadlock_nor_double():
    """The events are inserted before the lot lock: two deliveries of one batch in opposite orders
    must still take their rows in one order."""
    lot = LotFactory(total_berths=500, free_berths=500, tariff=None)
    for round_ in range(3):
        events = [entry_event(lot, f"苏B{round_}{i:04d}") for i in range(60)]
        jobs = []
        for n, ordered in enumerate((events, events[::-1], events[30:] + events[:30])):
            device, secret = DeviceFactory.issue(lots=[lot], name=f"转发{round_}-{n}")
            jobs.append(_poster(device, secret, [ordered]))
        bodies = [bodies[0] for bodies in run_together(jobs)]
        assert sum(body["accepted"] for body in bodies) == 60
        assert sum(body["duplicates"] for body in bodies) == 120
    assert IngestEvent.objects.count() == ParkingSession.objects.count() == 180
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 320


def test_one_plate_entering_from_several_gates_at_once_has_one_open_session():
    lot = LotFactory(total_berths=100, free_berths=100, tariff=None)
    now = timezone.now()
    jobs = []
    for n in range(4):
        device, secret = DeviceFactory.issue(lots=[lot], name=f"闸口{n}")
        jobs.append(_poster(device, secret, [[entry_event(lot, "苏B12345", at=now - timedelta(seconds=n))]]))
    run_together(jobs)
    assert ParkingSession.objects.filter(plate="苏B12345", state="open").count() == 1
    assert ParkingSession.objects.filter(plate="苏B12345", state="superseded").count() == 3
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 99


def test_snapshots_racing_from_several_devices_leave_the_newest_one_in_force():
    """Each lot system's snapshot, with entries after it, races the others. Whatever order the
    requests commit in, the count is the newest snapshot moved by what happened after it: the time
    a count stands on is read under the lot's row lock, never stale."""
    lot = LotFactory(total_berths=1000, free_berths=1000, tariff=None)
    base = timezone.now() - timedelta(hours=2)
    batches = {}
    for k in range(12):
        at = base + timedelta(minutes=k)
        snapshot = event(lot, "lot_status", at=at, free_berths=500 + 10 * k)
        entries = [entry_event(lot, f"苏B{k:02d}{i:03d}", at=at + timedelta(seconds=10 + i)) for i in range(k % 3 + 1)]
        batches[k] = [snapshot, *entries]
    jobs = []
    for n in range(4):
        device, secret = DeviceFactory.issue(lots=[lot], name=f"系统{n}")
        jobs.append(_poster(device, secret, [batches[k] for k in range(n, 12, 4)]))  # times interleave
    bodies = [body for bodies in run_together(jobs) for body in bodies]
    assert sum(body["rejected"] for body in bodies) == 0
    lot.refresh_from_db()
    assert lot.snapshot_at == base + timedelta(minutes=11)
    assert lot.free_berths == 500 + 10 * 11 - (11 % 3 + 1)


# -- session money: a payment and an exit racing ---------------------------------------------------
# A payment (sessions.services.session_apply_payment) locks the session; an exit locks its lot, then
# the session. Whichever goes first, the other sees what it wrote: nothing is lost either way.

MONEY_NOW = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)  # a Tuesday: 10:00 → 11:30 costs 1000 fen


def _money_lot():
    lot = LotFactory(total_berths=500, free_berths=500)  # the core arterial tariff
    device, _secret = DeviceFactory.issue(lots=[lot])
    return lot, device


def _enter(device, lot, plates):
    events_record(device=device, events=[entry_event(lot, p, at=MONEY_NOW.replace(hour=10)) for p in plates],
                  now=MONEY_NOW)
    return dict(ParkingSession.objects.filter(plate__in=plates).values_list("plate", "pk"))


def _leave(device, lot, plate, minute=30):
    body = events_record(device=device, events=[exit_event(lot, plate, at=MONEY_NOW.replace(hour=11, minute=minute))],
                         now=MONEY_NOW).as_dict()
    return body["results"][0]["session"]


def test_an_exit_waits_for_a_payment_being_committed_and_releases_it_as_paid():
    lot, device = _money_lot()
    session_id = _enter(device, lot, ["苏B12345"])["苏B12345"]
    paying = threading.Event()

    def pay():
        with transaction.atomic():
            session_apply_payment(session_id=session_id, amount_fen=1000, reason="wechat", reference="O1")
            paying.set()
            time.sleep(0.5)  # the payment holds the session's lock, not yet committed

    def leave():
        assert paying.wait(10)
        return _leave(device, lot, "苏B12345")

    _paid, result = run_together([pay, leave])
    assert (result["release"], result["release_reason"], result["paid_fen"], result["due_fen"]) == (True, "paid",
                                                                                                   1000, 0)
    stored = ParkingSession.objects.get(pk=session_id)
    assert (stored.state, stored.amount_fen, stored.paid_fen, stored.due_fen) == ("closed", 1000, 1000, 0)
    assert SessionMoneyEntry.objects.get().amount_fen == 1000


def test_a_payment_waits_for_an_exit_being_committed_and_is_kept():
    lot, device = _money_lot()
    session_id = _enter(device, lot, ["苏B12345"])["苏B12345"]
    leaving = threading.Event()

    def leave():
        with transaction.atomic():
            result = _leave(device, lot, "苏B12345")
            leaving.set()
            time.sleep(0.5)  # the exit holds the lot's and the session's locks, not yet committed
        return result

    def pay():
        assert leaving.wait(10)
        return session_apply_payment(session_id=session_id, amount_fen=1000, reason="wechat", reference="O1")

    result, _paid = run_together([leave, pay])
    assert (result["release"], result["release_reason"], result["due_fen"]) == (False, "unpaid", 1000)
    stored = ParkingSession.objects.get(pk=session_id)
    assert (stored.state, stored.amount_fen, stored.paid_fen, stored.due_fen) == ("awaiting_payment", 1000, 1000, 0)
    assert _leave(device, lot, "苏B12345", minute=40)["release_reason"] == "paid"


def test_payments_and_exits_racing_never_lose_either():
    lot, device = _money_lot()
    rounds = 30
    plates = [f"苏B6{i:04d}" for i in range(rounds)]
    sessions = _enter(device, lot, plates)
    outcomes = Counter()
    for n, plate in enumerate(plates):
        def pay(plate=plate, n=n):
            return session_apply_payment(session_id=sessions[plate], amount_fen=1000, reason="wechat",
                                         reference=f"O{n}")

        def leave(plate=plate):
            return _leave(device, lot, plate)

        jobs = [pay, leave] if n % 2 else [leave, pay]
        results = run_together(jobs)
        result = results[1] if n % 2 else results[0]
        stored = ParkingSession.objects.get(pk=sessions[plate])
        # The payment is never lost, the amount is the exit's, and what is due follows from both.
        assert (stored.paid_fen, stored.amount_fen, stored.due_fen) == (1000, 1000, 0)
        assert SessionMoneyEntry.objects.filter(session_id=stored.pk, kind="payment").count() == 1
        # The barrier decision is the one the paid amount at that moment gives.
        if result["release_reason"] == "paid":
            assert (result["release"], result["paid_fen"], result["due_fen"]) == (True, 1000, 0)
            assert stored.state == "closed"
        else:
            assert (result["release"], result["release_reason"], result["paid_fen"], result["due_fen"]) == (
                False, "unpaid", 0, 1000)
            assert stored.state == "awaiting_payment"
        outcomes[result["release_reason"]] += 1
    lot.refresh_from_db()
    assert lot.free_berths == 500 - rounds + outcomes["paid"]
    assert sum(outcomes.values()) == rounds


# -- a batch worked out before its lots' lock ------------------------------------------------------
# A batch reckons its sessions and berths before it takes its lots' lock, and keeps the reckoning
# only if, under the lock, they are still the rows it read. These runs hold a batch between its
# reckoning and its lock while another commits, and check it ends as if it had run after the other.

def _held_before_the_lock(monkeypatch, *, meanwhile):
    """Make the next batch whose thread is named ``held`` run ``meanwhile()`` (in another thread,
    so on another connection, to its commit) after its reckoning and before its lots' lock."""
    from apps.sessions import services

    original = services._Recorder.lock_and_check
    reckonings = Counter()
    original_work_out = services._Recorder.work_out

    def work_out(self, *args, locked, **kwargs):
        reckonings["locked" if locked else "before the lock"] += 1
        return original_work_out(self, *args, locked=locked, **kwargs)

    def lock_and_check(self, heard, work):
        if threading.current_thread().name == "held":
            errors = []

            def other():
                try:
                    meanwhile()
                except BaseException as exc:  # raised below, in the held thread
                    errors.append(exc)
                finally:
                    from django.db import connection
                    connection.close()

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(30)
            if errors:
                raise errors[0]
        return original(self, heard, work)

    monkeypatch.setattr(services._Recorder, "lock_and_check", lock_and_check)
    monkeypatch.setattr(services._Recorder, "work_out", work_out)
    return reckonings


def _in_thread_named_held(job):
    results, errors = [], []

    def run():
        try:
            results.append(job())
        except BaseException as exc:
            errors.append(exc)
        finally:
            from django.db import connection
            connection.close()

    thread = threading.Thread(target=run, name="held")
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return results[0]


def test_an_exit_reckoned_before_the_cars_entry_committed_closes_that_entrys_stay(monkeypatch):
    lot = LotFactory(total_berths=100, free_berths=100, tariff=None)
    device = DeviceFactory.issue(lots=[lot])[0]
    now = timezone.now()
    entry = entry_event(lot, "苏B12345", at=now - timedelta(minutes=40))
    reckonings = _held_before_the_lock(
        monkeypatch, meanwhile=lambda: events_record(device=device, events=[entry], now=now))
    body = _in_thread_named_held(lambda: events_record(
        device=device, events=[exit_event(lot, "苏B12345", at=now - timedelta(minutes=5))], now=now).as_dict())
    # Reckoned alone the exit would have been an exit without an entry (a stay for review); the
    # entry committed before the exit's lock, so it is reckoned again and closes the entry's stay.
    assert reckonings == {"before the lock": 2, "locked": 1}  # the entry's, the exit's, the exit's again
    session = ParkingSession.objects.get()
    assert (session.state, session.entry_at is not None, session.exit_at is not None) == ("closed", True, True)
    assert body["results"][0]["session"]["release"] is True
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 100


def test_a_batch_whose_rows_did_not_change_keeps_its_reckoning(monkeypatch):
    lot = LotFactory(total_berths=100, free_berths=100, tariff=None)
    other = LotFactory(total_berths=100, free_berths=100, tariff=None)
    device = DeviceFactory.issue(lots=[lot, other])[0]
    now = timezone.now()
    events_record(device=device, events=[entry_event(lot, "苏B12345", at=now - timedelta(minutes=40))], now=now)
    # Another car in another lot commits meanwhile: nothing this exit read has changed.
    reckonings = _held_before_the_lock(monkeypatch, meanwhile=lambda: events_record(
        device=device, events=[entry_event(other, "苏B54321", at=now - timedelta(minutes=9))], now=now))
    _in_thread_named_held(lambda: events_record(
        device=device, events=[exit_event(lot, "苏B12345", at=now - timedelta(minutes=5))], now=now))
    assert reckonings == {"before the lock": 2}
    assert ParkingSession.objects.get(plate="苏B12345").state == "closed"
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 100


def test_a_payment_committed_after_an_exits_reckoning_releases_the_car_as_paid(monkeypatch):
    lot, device = _money_lot()
    session_id = _enter(device, lot, ["苏B12345"])["苏B12345"]
    reckonings = _held_before_the_lock(monkeypatch, meanwhile=lambda: session_apply_payment(
        session_id=session_id, amount_fen=1000, reason="wechat", reference="O1"))
    result = _in_thread_named_held(lambda: _leave(device, lot, "苏B12345"))
    assert reckonings["locked"] == 1
    assert (result["release"], result["release_reason"], result["paid_fen"], result["due_fen"]) == (True, "paid",
                                                                                                   1000, 0)
    assert ParkingSession.objects.get(pk=session_id).state == "closed"


def test_a_berth_changed_after_a_batchs_reckoning_is_reckoned_again(monkeypatch):
    from apps.berths.models import Berth
    from tests.factories_sessions import BerthFactory

    lot = LotFactory(total_berths=10, free_berths=10, tariff=None, kind=ParkingLot.Kind.ON_STREET)
    berth = BerthFactory(lot=lot, code="A01")
    device = DeviceFactory.issue(lots=[lot])[0]
    now = timezone.now()
    # Staff rename the berth's floor (any change to its row) between the batch's reckoning and its lock.
    reckonings = _held_before_the_lock(monkeypatch, meanwhile=lambda: Berth.objects.filter(pk=berth.pk).update(
        floor="B1"))
    _in_thread_named_held(lambda: events_record(
        device=device, events=[entry_event(lot, "苏B12345", at=now - timedelta(minutes=5), berth_code="A01")], now=now))
    assert reckonings["locked"] == 1
    assert ParkingSession.objects.get().berth_id == berth.pk
