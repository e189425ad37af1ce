"""factory_boy factories for the WeChat app: citizens, their WeChat identities and bound plates."""

from __future__ import annotations

import factory
from django.utils import timezone

from apps.wechat.models import BoundPlate, Citizen, WechatIdentity
from tests.factories import UserFactory


class CitizenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Citizen

    user = factory.SubFactory(UserFactory)


class IdentityFactory(factory.django.DjangoModelFactory):
    """An official-account openid (``app_id`` defaults to the test account's)."""

    class Meta:
        model = WechatIdentity

    citizen = factory.SubFactory(CitizenFactory)
    app_id = "wx0123456789abcdef"
    openid = factory.Sequence(lambda n: f"o-test-openid-{n:06d}")
    subscribed = True


class BoundPlateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BoundPlate

    citizen = factory.SubFactory(CitizenFactory)
    plate = factory.Sequence(lambda n: f"苏E{n % 100000:05d}")
    bound_at = factory.LazyFunction(timezone.now)
