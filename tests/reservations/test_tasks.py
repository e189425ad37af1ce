"""The periodic sweep runs from Celery beat and from the embedded scheduler alike (one schedule)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from apps.reservations import services
from apps.reservations.models import Reservation, SharingContract, SharingOffer
from tests.factories import UserFactory
from tests.factories_reservations import SharingOfferFactory, SlotFactory

pytestmark = pytest.mark.django_db


def test_the_sweep_is_scheduled_for_beat_and_the_embedded_scheduler():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-reservations"]
    assert import_string(entry["task"]).name == "apps.reservations.tasks.sweep_reservations"
    assert entry["schedule"] <= 60


def test_the_sweep_marks_no_shows_and_expires_contracts(citizen, hospital, bound, officer):
    past = timezone.now() - timedelta(hours=3)
    slot = SlotFactory(hospital=hospital, starts_at=past, ends_at=past + timedelta(hours=1))
    reservation = services.reservation_book(user=citizen, slot_id=slot.pk, plate="苏B12345",
                                            now=past - timedelta(hours=2))
    resident = bound.bind(UserFactory(), "苏B77777")
    offer = SharingOfferFactory(berths=1)
    application = services.sharing_apply(user=resident, offer_id=offer.pk, plate="苏B77777", address="某小区",
                                         now=past - timedelta(days=40))
    contract = services.sharing_application_approve(application_id=application.pk, actor=officer,
                                                    now=past - timedelta(days=40))
    done = import_string(settings.CELERY_BEAT_SCHEDULE["sweep-reservations"]["task"]).apply().get()
    assert (done["no_show"], done["expired_contracts"]) == (1, 1)
    assert Reservation.objects.get(pk=reservation.pk).state == "no_show"
    assert SharingContract.objects.get(pk=contract.pk).state == "expired"
    assert SharingOffer.objects.get(pk=offer.pk).taken == 0
