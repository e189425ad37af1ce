"""A row of any scoped model placed in one district, for the cross-region tests of the admin
(tests/security/test_route_coverage.py): required fields get plain values, a lot, region or operator
is the district's, other relations are made the same way."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.db import models
from django.utils import timezone

from tests.factories import LotFactory, OperatorFactory, UserFactory

_counter = itertools.count(1)


class Place:
    """One district's lot, operator and region, made once per test."""

    def __init__(self, region):
        self.region = region
        self.operator = OperatorFactory(region=region)
        self.lot = LotFactory(region=region, operator=self.operator)


def _value(field: models.Field, place: Place, depth: int):
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        target = field.related_model
        label = target._meta.label
        if label == "regions.Region":
            return place.region
        if label == "lots.ParkingLot":
            return place.lot
        if label == "regions.Operator":
            return place.operator
        if label == "auth.User":
            return UserFactory()
        return make(target, place, depth=depth + 1)
    n = next(_counter)
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return timezone.now() - timedelta(minutes=n)
    if isinstance(field, models.DateField):
        return date.today() - timedelta(days=n)
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, models.IntegerField | models.FloatField):
        return 1
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.GenericIPAddressField):
        return "10.0.0.1"
    if isinstance(field, models.CharField | models.TextField):
        length = field.max_length or 32
        return f"X{n}"[:length] if length >= 2 else "X"
    raise TypeError(f"no plain value for {field!r}")


def make(model: type[models.Model], place: Place, *, depth: int = 0, **given):
    if depth > 3:
        raise RecursionError(f"{model._meta.label}: relations too deep to fill")
    values = dict(given)
    for field in model._meta.concrete_fields:
        if field.name in values or field.primary_key or field.has_default() or getattr(field, "auto_now", False) \
                or getattr(field, "auto_now_add", False):
            continue
        if field.null and not isinstance(field, models.ForeignKey | models.OneToOneField):
            continue
        if field.null and isinstance(field, models.ForeignKey | models.OneToOneField):
            label = field.related_model._meta.label
            if label not in {"regions.Region", "lots.ParkingLot", "regions.Operator"}:
                continue
        if field.blank and isinstance(field, models.CharField | models.TextField) and not field.choices:
            continue
        values[field.name] = _value(field, place, depth)
    return model._default_manager.create(**values)
