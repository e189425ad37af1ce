"""factory_boy factories for the registry (regions, operators, lots, tariffs, devices, berths)."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from apps.lots.models import Device, ParkingLot, Tariff
from apps.regions.models import Operator, Region
from apps.regions.validators import CREDIT_CODE_CHARSET, credit_code_check_char
from tests.spec_tariffs import CORE

CORE_ARTERIAL_RULES = CORE


def make_credit_code(n: int) -> str:
    """A valid unified social credit code, different for each n."""
    body = "91320200"
    serial = ""
    for _ in range(9):
        n, r = divmod(n, len(CREDIT_CODE_CHARSET))
        serial += CREDIT_CODE_CHARSET[r]
    first17 = body + serial
    return first17 + credit_code_check_char(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pass-Wuxi-2026")
        if create:
            obj.save(update_fields=["password"])


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "320213"
    name = "梁溪区"
    level = Region.Level.DISTRICT


class OperatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operator

    name = factory.Sequence(lambda n: f"无锡城市停车运营{n}号有限公司")
    credit_code = factory.Sequence(make_credit_code)
    ownership = Operator.Ownership.STATE_OWNED


class TariffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tariff

    name = factory.Sequence(lambda n: f"核心片区干道 {n}")
    rules = factory.LazyFunction(lambda: CORE_ARTERIAL_RULES)
    source = "SPEC §6 example"


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParkingLot

    code = factory.Sequence(lambda n: f"LX-{n:05d}")
    name = factory.Sequence(lambda n: f"测试停车场{n}")
    address = "无锡市梁溪区中山路"
    region = factory.SubFactory(RegionFactory)
    operator = factory.SubFactory(OperatorFactory)
    kind = ParkingLot.Kind.OFF_STREET
    lat = factory.Sequence(lambda n: 31.57 + (n % 50) * 0.001)
    lon = factory.Sequence(lambda n: 120.29 + (n % 37) * 0.001)
    total_berths = 100
    free_berths = 100
    tariff = factory.SubFactory(TariffFactory)


class DeviceFactory(factory.django.DjangoModelFactory):
    """Use ``DeviceFactory.issue(lots=[...])`` when the test needs the plain secret."""

    class Meta:
        model = Device

    @classmethod
    def issue(cls, *, lots, name="测试设备"):
        from apps.lots.services import device_issue

        return device_issue(name=name, lots=lots)
