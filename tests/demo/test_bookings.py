"""The demo city's booking sites and sharing (issue 9 item 9), and the simulator's patients."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import Count, F, Q
from django.utils import timezone

from apps.demo.bookings import SimulatedPatients
from apps.demo.seed import demo_city_seed
from apps.demo.simulation import CityModel, LotSpec
from apps.lots.models import ParkingLot
from apps.reservations.models import BookingSite, Reservation, SharingContract, SharingOffer, Slot

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    return demo_city_seed(lots=60, seed=7)


def test_the_demo_hospitals_have_slots_for_the_coming_days_some_nearly_full_some_full(seeded):
    hospitals = ParkingLot.objects.filter(category="hospital").count()
    assert BookingSite.objects.filter(kind="hospital").count() == hospitals > 0
    upcoming = Slot.objects.filter(starts_at__gt=timezone.now())
    assert upcoming.filter(booked=F("quota")).exists()
    assert upcoming.filter(booked__gt=0, booked__lt=F("quota"), booked__gte=F("quota") - 40).exists()
    assert upcoming.filter(booked__lt=F("quota") - 40).exists() or upcoming.filter(booked=0).exists()
    # Every counter is what its bookings say.
    counted = Slot.objects.annotate(n=Count("reservations", filter=Q(reservations__state="booked")))
    assert not counted.exclude(n=F("booked")).exists()
    assert seeded.bookings["reservations"] == Reservation.objects.count()
    assert SharingOffer.objects.exists() and SharingContract.objects.filter(state="active").exists()
    for offer in SharingOffer.objects.all():
        assert offer.taken == offer.contracts.filter(state="active").count()


def test_the_simulators_patients_book_arrive_and_now_and_then_fail_to_show(seeded):
    from apps.common.citizens import register_bound_plates

    codes = set(BookingSite.objects.values_list("lot__code", flat=True))
    try:
        patients = SimulatedPatients(rng=random.Random(3), lot_codes=codes)
        before = Reservation.objects.count()
        assert patients.book_some(now=timezone.now(), count=5) == 5
        assert Reservation.objects.count() == before + 5
        moment = Reservation.objects.order_by("slot__starts_at").first().slot.starts_at - timedelta(minutes=10)
        arriving = patients.arriving(now=moment)
        due = Reservation.objects.filter(state="booked", arrive_from__lte=moment, arrive_until__gt=moment).count()
        assert 0 < len(arriving) <= due
        assert patients.arriving(now=moment) == []  # each booking arrives once
    finally:
        register_bound_plates(None)
    lot = ParkingLot.objects.get(code=arriving[0][0])
    model = CityModel([LotSpec(code=lot.code, kind=lot.kind, category=lot.category, total_berths=lot.total_berths)],
                      rng=random.Random(1), rate=1.0, start=moment)
    (entry,) = model.arrive_booked(lot.code, arriving[0][1], moment)
    assert (entry["type"], entry["plate"], entry["lot_code"]) == ("entry", arriving[0][1], lot.code)
    assert model.arrive_booked(lot.code, arriving[0][1], moment) == []  # already in
