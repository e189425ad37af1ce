"""Fixtures the session tests share: a lot with room, its device, and recording a batch straight
through the service (``record``) or issuing a key for the signed API (``issued``)."""

import pytest

from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import AFTERNOON


@pytest.fixture
def lot():
    return LotFactory(total_berths=100, free_berths=50)


@pytest.fixture
def device(lot):
    return DeviceFactory.issue(lots=[lot])[0]


@pytest.fixture
def issued(lot):
    return DeviceFactory.issue(lots=[lot])


@pytest.fixture
def record(device):
    def send(*events, now=AFTERNOON):
        return events_record(device=device, events=list(events), now=now).as_dict()
    return send
