"""Never oversold (issue 9 item 3), on PostgreSQL with real threads: concurrent bookings for the
last places of a slot, the same plate booking twice at once, and approvals past an offer's berths."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.common.citizens import register_bound_plates
from apps.common.errors import DomainError
from apps.reservations import services
from apps.reservations.models import Reservation, SharingApplication, SharingContract, SharingOffer, Slot
from tests.factories import UserFactory
from tests.factories_reservations import BoundPlates, SharingOfferFactory, SlotFactory
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_together(jobs):
    """``run_together`` where a refusal is an answer: each result is the value or its DomainError code."""
    def answering(job):
        def run():
            try:
                return job()
            except DomainError as refused:
                return refused.code
        return run
    return run_together([answering(job) for job in jobs])


@pytest.fixture
def bound():
    resolver = BoundPlates()
    register_bound_plates(resolver)
    yield resolver
    register_bound_plates(None)


def test_sixty_bookings_for_the_last_ten_places_give_exactly_ten(bound):
    slot = SlotFactory(starts_at=timezone.now() + timedelta(days=1), quota=25)
    early = [bound.bind(UserFactory(), f"苏A{i:05d}") for i in range(15)]
    for i, user in enumerate(early):
        services.reservation_book(user=user, slot_id=slot.pk, plate=f"苏A{i:05d}")
    racers = [(bound.bind(UserFactory(), f"苏B{i:05d}"), f"苏B{i:05d}") for i in range(60)]

    def booking(user, plate):
        return lambda: services.reservation_book(user=user, slot_id=slot.pk, plate=plate).state

    outcomes = Counter(_run_together([booking(u, p) for u, p in racers]))
    assert outcomes == {"booked": 10, "slot_full": 50}
    slot.refresh_from_db()
    assert (slot.booked, slot.remaining) == (25, 0)
    assert Reservation.objects.filter(slot=slot, state="booked").count() == 25


def test_the_same_plate_booking_two_slots_of_a_day_at_once_gets_one(bound):
    user = bound.bind(UserFactory(), "苏B12345")
    start = (timezone.localtime() + timedelta(days=1)).replace(hour=4, minute=0)  # all on one local day
    first = SlotFactory(starts_at=start, quota=5)
    slots = [first] + [SlotFactory(hospital=first.hospital, starts_at=start + timedelta(minutes=40 * n), quota=5)
                       for n in range(1, 20)]

    def booking(slot):
        return lambda: services.reservation_book(user=user, slot_id=slot.pk, plate="苏B12345").state

    outcomes = Counter(_run_together([booking(s) for s in slots]))
    assert outcomes == {"booked": 1, "duplicate_reservation": 19}
    assert sum(Slot.objects.filter(pk__in=[s.pk for s in slots]).values_list("booked", flat=True)) == 1


def test_approvals_past_an_offers_berths_are_refused(bound, city, staff_factory):
    officer = staff_factory("region", "320213")
    offer = SharingOfferFactory(berths=3)
    applications = []
    for i in range(12):
        user = bound.bind(UserFactory(), f"苏B{i:05d}")
        applications.append(services.sharing_apply(user=user, offer_id=offer.pk, plate=f"苏B{i:05d}", address="某小区"))

    def approving(application):
        return lambda: services.sharing_application_approve(application_id=application.pk, actor=officer).state

    outcomes = Counter(_run_together([approving(a) for a in applications]))
    assert outcomes == {"active": 3, "offer_full": 9}
    assert SharingOffer.objects.get(pk=offer.pk).taken == 3
    assert SharingContract.objects.count() == 3
    assert SharingApplication.objects.filter(state="pending").count() == 9
