"""factory_boy factories for booking and sharing (sites, slots, offers), and the bound-plates
port's test resolver."""

from __future__ import annotations

from datetime import time, timedelta

import factory
from django.utils import timezone

from apps.reservations.models import BookingSite, SharingOffer, Slot
from tests.factories import LotFactory, TariffFactory

#: a tariff charging 100 fen every started hour, all day, nothing free: easy to price by hand
HOURLY = {"small": {"free_minutes": 0, "bands": [
    {"start": "00:00", "end": "24:00", "ladder": [{"after_minutes": 0, "unit_minutes": 60, "unit_fen": 100}]}]}}


class HospitalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookingSite

    name = factory.Sequence(lambda n: f"无锡市第{n}人民医院")
    lot = factory.SubFactory(LotFactory, tariff=factory.SubFactory(TariffFactory, rules=HOURLY))
    waives_fee = True


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Slot

    hospital = factory.SubFactory(HospitalFactory)
    starts_at = factory.LazyFunction(lambda: (timezone.localtime() + timedelta(days=1)).replace(
        hour=9, minute=0, second=0, microsecond=0))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=1))
    quota = 10


class SharingOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SharingOffer

    lot = factory.SubFactory(LotFactory, tariff=factory.SubFactory(TariffFactory, rules=HOURLY))
    title = factory.Sequence(lambda n: f"机关大院错时共享{n}")
    berths = 5
    weekday_start, weekday_end = time(18, 0), time(8, 0)
    weekend_start, weekend_end = time(0, 0), time(0, 0)
    monthly_price_fen = 15000


class BoundPlates:
    """The bound-plates port's resolver for tests: ``bind(user, plate, ...)``."""

    def __init__(self):
        self.by_user: dict[int, list[str]] = {}

    def __call__(self, user) -> list[str]:
        return list(self.by_user.get(user.pk, []))

    def bind(self, user, *plates: str):
        self.by_user.setdefault(user.pk, []).extend(plates)
        return user
