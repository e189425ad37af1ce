"""At the gate, through the release port (issue 9 items 4, 6, 7): arrival matching at entry, the
release reason at exit, a sharing contract's windows priced by the engine across midnight, an EV
booking's free minutes, and one query per batch each."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.lots.fees import SHANGHAI, compute_fee
from apps.reservations import gate, services
from apps.reservations.models import BerthKind, Reservation, SharingApplication
from apps.reservations.windows import offer_windows
from apps.sessions import release
from apps.sessions.models import ParkingSession, SessionMoneyEntry
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, UserFactory
from tests.factories_reservations import HOURLY, SharingOfferFactory, SlotFactory
from tests.factories_sessions import entry_event, exit_event

pytestmark = [pytest.mark.django_db, pytest.mark.midday]

DAY = datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI)  # a Tuesday


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


def recorder(lot):
    device = DeviceFactory.issue(lots=[lot])[0]

    def send(*events, now):
        return events_record(device=device, events=list(events), now=now).as_dict()["results"]
    return send


@pytest.fixture
def booked(citizen, hospital):
    """A booking of 苏B12345 for 10:00 (arrival 09:00–10:30)."""
    slot = SlotFactory(hospital=hospital, starts_at=at(10), ends_at=at(11))
    return services.reservation_book(user=citizen, slot_id=slot.pk, plate="苏B12345", now=at(8))


def test_an_entry_inside_the_window_marks_the_booking_arrived(booked, hospital):
    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏B12345", at=at(9, 5)), now=at(9, 6))
    reservation = Reservation.objects.get()
    session = ParkingSession.objects.get()
    assert (reservation.state, reservation.arrived_at, reservation.session_id) == ("arrived", at(9, 5), session.pk)


@pytest.mark.parametrize("minute", [-61, 31])
def test_an_entry_outside_the_window_leaves_it_booked(booked, hospital, minute):
    send = recorder(hospital.lot)
    entered = at(10) + timedelta(minutes=minute)
    send(entry_event(hospital.lot, "苏B12345", at=entered), now=entered)
    assert Reservation.objects.get().state == "booked"


def test_another_plate_or_another_lot_does_not_arrive(booked, hospital, city):
    from tests.factories import LotFactory

    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏B54321", at=at(9, 30)), now=at(9, 31))
    other = LotFactory()
    recorder(other)(entry_event(other, "苏B12345", at=at(9, 30)), now=at(9, 31))
    assert Reservation.objects.get().state == "booked"


def test_the_exit_of_an_arrival_where_the_fee_is_waived_is_released_as_reservation(booked, hospital):
    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏B12345", at=at(9, 30)), now=at(9, 31))
    session = send(exit_event(hospital.lot, "苏B12345", at=at(12, 10)), now=at(12, 11))[0]["session"]
    assert (session["release"], session["release_reason"], session["amount_fen"], session["due_fen"]) == (
        True, "reservation", 300, 0)
    waiver = SessionMoneyEntry.objects.get()
    assert (waiver.kind, waiver.amount_fen, waiver.reason, waiver.reference) == (
        "waiver", 300, gate.HOSPITAL_WAIVER_RULE, booked.code)
    reservation = Reservation.objects.get()  # completed as the car left, not at the next sweep
    assert (reservation.state, reservation.closed_at) == ("completed", at(12, 10))


def test_where_the_hospital_does_not_waive_the_exit_is_billed_as_usual(booked, hospital):
    hospital.waives_fee = False
    hospital.save()
    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏B12345", at=at(9, 30)), now=at(9, 31))
    session = send(exit_event(hospital.lot, "苏B12345", at=at(12, 10)), now=at(12, 11))[0]["session"]
    assert (session["release"], session["release_reason"], session["due_fen"]) == (False, "unpaid", 300)
    assert Reservation.objects.get().state == "arrived"  # the stay is not over until the car has left
    stay = ParkingSession.objects.get()
    from apps.sessions.services import session_apply_payment

    session_apply_payment(session_id=stay.pk, amount_fen=300, reason="payment", reference="ORDER-1")
    again = send(exit_event(hospital.lot, "苏B12345", at=at(12, 14)), now=at(12, 15))[0]["session"]
    assert (again["release"], again["release_reason"]) == (True, "paid")
    assert Reservation.objects.get().state == "completed"  # paid and gone: completed with the exit


def test_a_booking_that_never_arrived_covers_nothing(booked, hospital):
    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏B12345", at=at(11)), now=at(11))  # too late
    session = send(exit_event(hospital.lot, "苏B12345", at=at(12, 10)), now=at(12, 11))[0]["session"]
    assert session["release_reason"] == "unpaid"


def test_a_booked_ev_berth_waives_the_configured_minutes(bound, hospital):
    hospital.waives_fee, hospital.ev_free_minutes = False, 120
    hospital.save()
    user = bound.bind(UserFactory(), "苏BD12345")
    slot = SlotFactory(hospital=hospital, starts_at=at(10), ends_at=at(11), berth_kind=BerthKind.EV)
    services.reservation_book(user=user, slot_id=slot.pk, plate="苏BD12345", now=at(8))
    send = recorder(hospital.lot)
    send(entry_event(hospital.lot, "苏BD12345", at=at(10)), now=at(10))
    inside = send(exit_event(hospital.lot, "苏BD12345", at=at(11, 50)), now=at(11, 50))[0]["session"]
    assert (inside["release"], inside["release_reason"], inside["amount_fen"]) == (True, "reservation", 0)

    user2 = bound.bind(UserFactory(), "苏BD54321")
    slot2 = SlotFactory(hospital=hospital, starts_at=at(10, day=1), ends_at=at(11, day=1), berth_kind=BerthKind.EV)
    services.reservation_book(user=user2, slot_id=slot2.pk, plate="苏BD54321", now=at(8))
    send(entry_event(hospital.lot, "苏BD54321", at=at(10, day=1)), now=at(10, day=1))
    longer = send(exit_event(hospital.lot, "苏BD54321", at=at(13, 30, day=1)), now=at(13, 30, day=1))[0]["session"]
    # Two free hours, then 90 minutes billed per started hour: 2 units.
    assert (longer["release"], longer["release_reason"], longer["amount_fen"]) == (False, "unpaid", 200)


def test_providers_answer_a_batch_with_one_query_each(bound, hospital):
    plates = [f"苏B3{i:04d}" for i in range(20)]
    users = [bound.bind(UserFactory(), p) for p in plates]
    slot = SlotFactory(hospital=hospital, starts_at=at(10), ends_at=at(11), quota=50)
    for user, plate in zip(users, plates, strict=True):
        services.reservation_book(user=user, slot_id=slot.pk, plate=plate, now=at(8))
    entries = [release.EntryQuery(hospital.lot_id, p, at(9, 30), 1000 + i) for i, p in enumerate(plates)]
    exits = [release.ExitQuery(hospital.lot_id, p, at(12)) for p in plates]
    provider, sharing = gate.ReservationGate(), gate.SharingGate()
    SharingOfferFactory(lot=hospital.lot)
    gate.gate_lots()  # the lots that take bookings, read once and kept in the cache
    with CaptureQueriesContext(connection) as entry_queries:
        provider.at_entry(entries)
    with CaptureQueriesContext(connection) as exit_queries:
        covers = provider.at_exit(exits)
    with CaptureQueriesContext(connection) as sharing_queries:
        sharing.at_exit(exits)
    assert (len(entry_queries), len(exit_queries), len(sharing_queries)) == (1, 1, 1)
    assert Reservation.objects.filter(state="arrived").count() == 20
    assert sorted(Reservation.objects.values_list("session_id", flat=True)) == list(range(1000, 1020))
    assert {c.reason for c in covers.values()} == {"reservation"} and len(covers) == 20


# ---------------------------------------------------------------------------------------------------
# Sharing contracts

@pytest.fixture
def contract(bound, city, officer):
    resident = bound.bind(UserFactory(), "苏B88888")
    offer = SharingOfferFactory(weekday_start=time(18), weekday_end=time(8), weekend_start=None, weekend_end=None)
    application = services.sharing_apply(user=resident, offer_id=offer.pk, plate="苏B88888", address="梁溪区某小区",
                                         now=at(0, day=-1))
    return services.sharing_application_approve(application_id=application.pk, actor=officer, now=at(0, day=-1))


def test_a_stay_inside_the_windows_across_midnight_is_released_as_sharing_contract(contract):
    send = recorder(contract.lot)
    send(entry_event(contract.lot, "苏B88888", at=at(19)), now=at(19))
    session = send(exit_event(contract.lot, "苏B88888", at=at(7, 30, day=1)), now=at(7, 30, day=1))[0]["session"]
    assert (session["release"], session["release_reason"], session["amount_fen"], session["due_fen"]) == (
        True, "sharing_contract", 0, 0)
    assert not SessionMoneyEntry.objects.exists()


def test_time_outside_the_windows_is_billed_as_the_engine_prices_it(contract):
    send = recorder(contract.lot)
    send(entry_event(contract.lot, "苏B88888", at=at(16, 30)), now=at(16, 30))
    session = send(exit_event(contract.lot, "苏B88888", at=at(9, 15, day=1)), now=at(9, 15, day=1))[0]["session"]
    windows = [(at(18), at(8, day=1))]
    expected = compute_fee(HOURLY, vehicle_class="small", entry=at(16, 30), exit=at(9, 15, day=1),
                           free_windows=windows)
    # 16:30–18:00 (two started hours) and 08:00–09:15 (two): the night is free.
    assert expected == 400
    assert (session["release"], session["release_reason"], session["amount_fen"]) == (False, "unpaid", expected)


def test_another_lot_or_an_ended_contract_gives_no_windows(contract, officer):
    send = recorder(contract.lot)
    services.sharing_contract_end(contract_id=contract.pk, actor=officer, now=at(12))
    send(entry_event(contract.lot, "苏B88888", at=at(19)), now=at(19))
    session = send(exit_event(contract.lot, "苏B88888", at=at(7, day=1)), now=at(7, day=1))[0]["session"]
    assert (session["release_reason"], session["amount_fen"]) == ("unpaid", 1200)


def test_an_offers_windows_wrap_past_midnight_and_weekends_differ():
    weekday, weekend = (time(18), time(8)), (time(0), time(0))
    friday, saturday, monday = DAY + timedelta(days=3), DAY + timedelta(days=4), DAY + timedelta(days=6)
    found = list(offer_windows(weekday=weekday, weekend=weekend, start=friday + timedelta(hours=12),
                               end=monday + timedelta(hours=12), tz=SHANGHAI))
    assert found[0] == (friday + timedelta(hours=18), saturday + timedelta(hours=8))
    assert found[1] == (saturday, saturday + timedelta(days=1))
    assert found[2] == (saturday + timedelta(days=1), monday)
    assert len(found) == 3  # Monday's window starts at 18:00, after the end


def test_applying_twice_or_for_an_unbound_plate_is_refused(contract, bound):
    from apps.reservations import errors

    with pytest.raises(errors.DuplicateApplication):
        services.sharing_apply(user=contract.user, offer_id=contract.offer_id, plate="苏B88888", address="x",
                               now=at(1))
    stranger = UserFactory()
    with pytest.raises(errors.PlateNotBound):
        services.sharing_apply(user=stranger, offer_id=contract.offer_id, plate="苏B77777", address="x", now=at(1))
    assert SharingApplication.objects.count() == 1


def test_a_lot_without_bookings_or_sharing_costs_the_port_no_query(hospital, city):
    from tests.factories import LotFactory

    plain = LotFactory()
    gate.gate_lots()
    with CaptureQueriesContext(connection) as queries:
        gate.ReservationGate().at_entry([release.EntryQuery(plain.pk, "苏B12345", at(9), 1)])
        assert gate.ReservationGate().at_exit([release.ExitQuery(plain.pk, "苏B12345", at(10))]) == {}
        assert gate.SharingGate().at_exit([release.ExitQuery(plain.pk, "苏B12345", at(10))]) == {}
    assert len(queries) == 0


def test_a_new_site_is_seen_by_the_gate_at_once(citizen, city):
    from tests.factories import LotFactory

    lot = LotFactory()
    assert lot.pk not in gate.gate_lots()[gate.SITES]
    site = SlotFactory(hospital__lot=lot, starts_at=at(10), ends_at=at(11)).hospital
    assert lot.pk in gate.gate_lots()[gate.SITES]
    services.reservation_book(user=citizen, slot_id=site.slots.get().pk, plate="苏B12345", now=at(8))
    recorder(lot)(entry_event(lot, "苏B12345", at=at(9, 30)), now=at(9, 30))
    assert Reservation.objects.get().state == "arrived"
