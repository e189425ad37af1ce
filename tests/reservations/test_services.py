"""Booking rules (issue 9 items 1, 3, 5): windows and cut-offs, duplicates, cancellation, no-shows
and suspension, bad input refused with nothing saved."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from apps.audit.models import AuditEntry
from apps.common.plates import PlateError
from apps.lots.fees import SHANGHAI
from apps.reservations import errors, services
from apps.reservations.models import Reservation, Slot, Suspension
from tests.factories import UserFactory
from tests.factories_reservations import HospitalFactory, SlotFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 17, 8, 0, tzinfo=SHANGHAI)  # a Tuesday morning


def slot_at(hospital, day: int, hour: int, quota: int = 10, minute: int = 0) -> Slot:
    starts = (NOW + timedelta(days=day)).replace(hour=hour, minute=minute)
    return SlotFactory(hospital=hospital, starts_at=starts, ends_at=starts + timedelta(hours=1), quota=quota)


def book(user, slot, plate="苏B12345", now=NOW):
    return services.reservation_book(user=user, slot_id=slot.pk, plate=plate, now=now)


def test_a_booking_takes_a_place_and_states_its_arrival_window(citizen, hospital):
    slot = slot_at(hospital, 1, 9, quota=2)
    reservation = book(citizen, slot, plate="苏b 12345")
    assert (reservation.state, reservation.plate, reservation.lot_id) == ("booked", "苏B12345", hospital.lot_id)
    assert reservation.arrive_from == slot.starts_at - timedelta(minutes=60)
    assert reservation.arrive_until == slot.starts_at + timedelta(minutes=30)
    assert len(reservation.code) == 8
    assert Slot.objects.get(pk=slot.pk).remaining == 1


def test_one_active_booking_per_plate_site_and_day(citizen, hospital, bound):
    morning, afternoon = slot_at(hospital, 1, 9), slot_at(hospital, 1, 14)
    book(citizen, morning)
    with pytest.raises(errors.DuplicateReservation) as refused:
        book(citizen, afternoon)
    assert (refused.value.code, refused.value.status) == ("duplicate_reservation", 409)
    assert Slot.objects.get(pk=afternoon.pk).booked == 0
    assert Reservation.objects.count() == 1
    # Another day, another site: allowed; a cancelled booking no longer counts.
    book(citizen, slot_at(hospital, 2, 9))
    book(citizen, slot_at(HospitalFactory(), 1, 9))
    services.reservation_cancel(reservation_id=Reservation.objects.get(slot=morning).pk, user=citizen, now=NOW)
    book(citizen, afternoon)


def test_a_full_slot_refuses_and_a_cancellation_gives_the_place_back_at_once(bound, hospital):
    slot = slot_at(hospital, 1, 9, quota=1)
    first = book(bound.bind(UserFactory(), "苏B11111"), slot, plate="苏B11111")
    late = bound.bind(UserFactory(), "苏B22222")
    with pytest.raises(errors.SlotFull) as refused:
        book(late, slot, plate="苏B22222")
    assert (refused.value.code, refused.value.status) == ("slot_full", 409)
    services.reservation_cancel(reservation_id=first.pk, user=first.user, now=NOW)
    assert Slot.objects.get(pk=slot.pk).remaining == 1
    assert book(late, slot, plate="苏B22222").state == "booked"


def test_booking_outside_the_window_or_after_the_cutoff_is_refused(citizen, hospital):
    hospital.booking_window_days, hospital.booking_cutoff_minutes = 7, 30
    hospital.save()
    with pytest.raises(errors.BookingNotOpen) as refused:
        book(citizen, slot_at(hospital, 8, 9))  # a day past the window
    assert (refused.value.code, refused.value.status) == ("booking_closed", 409)
    assert book(citizen, slot_at(hospital, 7, 9)).state == "booked"  # the window's last day
    same_day = slot_at(hospital, 0, 8, minute=29)  # 29 minutes ahead: past the 30-minute cut-off
    with pytest.raises(errors.BookingNotOpen):
        book(citizen, same_day)
    with pytest.raises(errors.BookingNotOpen):
        book(citizen, slot_at(hospital, 0, 7))  # already begun
    assert book(citizen, slot_at(hospital, 0, 8, minute=31)).state == "booked"
    assert Slot.objects.get(pk=same_day.pk).booked == 0


def test_cancellation_after_the_cutoff_is_refused(citizen, hospital):
    slot = slot_at(hospital, 0, 10)  # cancel cut-off: 60 minutes before, 09:00
    reservation = book(citizen, slot)
    with pytest.raises(errors.CancellationClosed) as refused:
        services.reservation_cancel(reservation_id=reservation.pk, user=citizen, now=NOW.replace(hour=9))
    assert (refused.value.code, refused.value.status) == ("cancellation_closed", 409)
    assert Reservation.objects.get().state == "booked"
    assert Slot.objects.get(pk=slot.pk).booked == 1
    services.reservation_cancel(reservation_id=reservation.pk, user=citizen, now=NOW.replace(hour=8, minute=59))
    assert (Reservation.objects.get().state, Slot.objects.get(pk=slot.pk).booked) == ("cancelled", 0)


def test_someone_elses_booking_cannot_be_cancelled(citizen, hospital):
    reservation = book(citizen, slot_at(hospital, 1, 9))
    with pytest.raises(errors.ReservationError) as refused:
        services.reservation_cancel(reservation_id=reservation.pk, user=UserFactory(), now=NOW)
    assert refused.value.status == 404
    assert Reservation.objects.get().state == "booked"


@pytest.mark.parametrize(("slot_id", "plate", "error", "code"), [
    (None, "苏B12345", errors.UnknownSlot, "unknown_slot"),
    ("x", "苏B12345", errors.UnknownSlot, "unknown_slot"),
    ("own", "苏B99999", errors.PlateNotBound, "plate_not_bound"),
    ("own", "苏B1234", PlateError, "invalid_plate"),
    ("own", "", PlateError, "invalid_plate"),
])
def test_bad_input_is_refused_and_saves_nothing(citizen, hospital, slot_id, plate, error, code):
    slot = slot_at(hospital, 1, 9)
    with pytest.raises(error) as refused:
        services.reservation_book(user=citizen, slot_id=slot.pk if slot_id == "own" else slot_id or 999999,
                                  plate=plate, now=NOW)
    assert refused.value.code == code
    assert not Reservation.objects.exists()
    assert Slot.objects.get(pk=slot.pk).booked == 0


def test_a_closed_site_takes_no_booking(citizen, hospital):
    slot = slot_at(hospital, 1, 9)
    hospital.active = False
    hospital.save()
    with pytest.raises(errors.UnknownSlot):
        book(citizen, slot)


def told(requests) -> list[tuple]:
    """The booking notices asked for through the platform's port, as (event, kind, user)."""
    return [(r.data["event"], r.kind, r.user) for r in requests]


def test_no_shows_free_the_place_tell_the_citizen_and_suspend_after_the_limit(citizen, hospital, officer,
                                                                             notice_requests,
                                                                             django_capture_on_commit_callbacks):
    for day in (1, 2, 3):
        slot = slot_at(hospital, day, 9)
        reservation = book(citizen, slot)
        after = reservation.arrive_until + timedelta(seconds=1)
        assert services.reservations_sweep(now=reservation.arrive_until)["no_show"] == 0  # window still open
        with django_capture_on_commit_callbacks(execute=True):
            swept = services.reservations_sweep(now=after)
        assert swept["no_show"] == 1
        assert Reservation.objects.get(pk=reservation.pk).state == "no_show"
        assert Slot.objects.get(pk=slot.pk).booked == 0
    events = [e for e, _k, _u in told(notice_requests)]
    assert events.count("reservation.confirmed") == 3 and events.count("reservation.no_show") == 3
    assert events[-1] == "booking.suspended"
    sent = {(kind, user) for event, kind, user in told(notice_requests) if event != "reservation.confirmed"}
    assert sent == {("reservation_no_show", citizen.pk)}
    suspension = Suspension.objects.get()
    assert (suspension.no_shows, suspension.user_id) == (3, citizen.pk)
    assert suspension.until == suspension.starts_at + timedelta(days=30)

    later = suspension.starts_at + timedelta(hours=1)
    next_slot = slot_at(hospital, 5, 9)
    with pytest.raises(errors.BookingSuspended) as refused:
        book(citizen, next_slot, now=later)
    assert (refused.value.code, refused.value.status) == ("booking_suspended", 403)
    assert refused.value.details["until"] == suspension.until.astimezone(SHANGHAI).isoformat()
    assert Slot.objects.get(pk=next_slot.pk).booked == 0
    # Another site's booking is not suspended.
    assert book(citizen, slot_at(HospitalFactory(), 5, 9), now=later).state == "booked"

    services.suspension_lift(suspension_id=suspension.pk, actor=officer, now=later)
    assert book(citizen, next_slot, now=later).state == "booked"
    entry = AuditEntry.objects.get(action="booking_suspension.lifted")
    assert (entry.actor_id, entry.object_id) == (officer.pk, suspension.pk)


def test_two_no_shows_do_not_suspend(citizen, hospital):
    for day in (1, 2):
        reservation = book(citizen, slot_at(hospital, day, 9))
        services.reservations_sweep(now=reservation.arrive_until + timedelta(minutes=1))
    assert Reservation.objects.filter(state="no_show").count() == 2
    assert not Suspension.objects.exists()


def test_lifting_another_regions_suspension_is_refused(citizen, staff_factory):
    hospital = HospitalFactory(lot__region__code="320211", lot__region__name="滨湖区")
    suspension = Suspension.objects.create(hospital=hospital, user=citizen, starts_at=NOW,
                                           until=NOW + timedelta(days=30), no_shows=3)
    with pytest.raises(errors.NotAllowed):
        services.suspension_lift(suspension_id=suspension.pk, actor=staff_factory("region", "320213"), now=NOW)
    assert Suspension.objects.get().lifted_at is None
    assert not AuditEntry.objects.exists()


def test_a_quota_never_drops_below_the_bookings(citizen, hospital, officer):
    slot = slot_at(hospital, 1, 9, quota=3)
    book(citizen, slot)
    slot.quota = 0
    with pytest.raises(errors.ReservationError) as refused:
        services.slot_save(slot=slot, actor=officer)
    assert refused.value.code == "quota_below_booked"
    slot.quota = 1
    services.slot_save(slot=slot, actor=officer)
    assert Slot.objects.get(pk=slot.pk).quota == 1
    assert AuditEntry.objects.get(action="slot.changed").changes == {"quota": [3, 1]}
    with pytest.raises(errors.StateConflict):
        services.slot_delete(slot=slot, actor=officer)


def test_saving_an_unchanged_site_or_slot_writes_no_audit_entry(officer, hospital):
    """The admin saves the site (and its slots) when an officer presses 保存 on an untouched form: the
    audit log is not to fill with entries that changed nothing."""
    slot = slot_at(hospital, 1, 9)
    services.hospital_save(hospital=hospital, actor=officer)
    services.slot_save(slot=slot, actor=officer)
    assert not AuditEntry.objects.exists()


def test_staff_rule_changes_are_audited(officer, hospital):
    hospital.booking_window_days = 3
    services.hospital_save(hospital=hospital, actor=officer)
    entry = AuditEntry.objects.get(action="hospital.changed")
    assert entry.changes == {"booking_window_days": [7, 3]}


def test_a_booking_is_reminded_once_in_the_hour_before_its_window(citizen, hospital, notice_requests):
    reservation = book(citizen, slot_at(hospital, 1, 9))
    notice_requests.clear()
    assert services.reservations_sweep(now=reservation.arrive_from - timedelta(hours=2))["reminded"] == 0
    soon = reservation.arrive_from - timedelta(minutes=30)
    assert services.reservations_sweep(now=soon)["reminded"] == 1
    assert services.reservations_sweep(now=soon + timedelta(minutes=1))["reminded"] == 0  # once
    assert told(notice_requests) == [("reservation.reminder", "reservation_reminder", citizen.pk)]

