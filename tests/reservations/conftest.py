"""Fixtures of the booking tests: citizens with bound plates (through the port), a site and a slot."""

import pytest

from apps.common.citizens import register_bound_plates
from tests.factories import UserFactory
from tests.factories_reservations import BoundPlates, HospitalFactory, SlotFactory


@pytest.fixture
def bound(db):
    resolver = BoundPlates()
    register_bound_plates(resolver)
    yield resolver
    register_bound_plates(None)


@pytest.fixture
def citizen(bound):
    return bound.bind(UserFactory(), "苏B12345")


@pytest.fixture
def hospital(city):
    return HospitalFactory()


@pytest.fixture
def slot(hospital):
    return SlotFactory(hospital=hospital)
