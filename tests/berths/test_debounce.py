"""Berth sensors: state from readings, debounced, late readings ignored, on-street counts."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from apps.berths.models import Berth
from apps.berths.services import BERTH_DEBOUNCE_S, berths_settle
from apps.berths.tasks import settle_berths
from apps.lots.fees import SHANGHAI
from apps.lots.models import ParkingLot
from apps.sessions.models import ParkingSession
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import BerthFactory, entry_event, event, exit_event

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 17, 10, 0, tzinfo=SHANGHAI)
HOLD = timedelta(seconds=BERTH_DEBOUNCE_S)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def street():
    return LotFactory(kind=ParkingLot.Kind.ON_STREET, zone_class="core", road_class="arterial", total_berths=10,
                      free_berths=10, tariff=None)


@pytest.fixture
def berth(street):
    return BerthFactory(lot=street, code="A01")


@pytest.fixture
def send(street):
    device = DeviceFactory.issue(lots=[street])[0]

    def record(*events, now=None):
        times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
        return events_record(device=device, events=list(events), now=now or max(times)).as_dict()

    return record


def reading(lot, state: str, seconds: float, code: str = "A01") -> dict:
    return event(lot, f"berth_{state}", at=s(seconds), berth_code=code)


def _state(berth) -> tuple[str, str]:
    berth.refresh_from_db()
    return berth.state, berth.pending_state


def _free(lot) -> int:
    return ParkingLot.objects.get(pk=lot.pk).free_berths


def test_the_first_reading_of_an_unknown_berth_applies_at_once(send, street, berth):
    send(reading(street, "occupied", 0))
    assert _state(berth) == ("occupied", "")
    assert berth.state_changed_at == s(0)
    assert _free(street) == 9


def test_a_flap_that_reverts_within_the_debounce_time_never_shows(send, street, berth):
    send(reading(street, "occupied", 0))
    send(reading(street, "vacant", 60))
    assert _state(berth) == ("occupied", "vacant")
    send(reading(street, "occupied", 63))
    assert _state(berth) == ("occupied", "")
    assert berth.state_changed_at == s(0)
    assert _free(street) == 9


def test_a_flurry_of_flaps_in_one_batch_settles_to_the_last_state(send, street, berth):
    send(reading(street, "occupied", 0))
    send(*(reading(street, state, 60 + i) for i, state in enumerate(["vacant", "occupied"] * 4)))
    assert _state(berth) == ("occupied", "")
    assert _free(street) == 9


def test_a_change_that_holds_is_applied_on_the_next_reading(send, street, berth):
    send(reading(street, "occupied", 0))
    send(reading(street, "vacant", 60))
    send(reading(street, "vacant", 60 + BERTH_DEBOUNCE_S))
    assert _state(berth) == ("vacant", "")
    assert berth.state_changed_at == s(60)  # dated when it began
    assert _free(street) == 10


def test_a_change_that_holds_is_applied_by_the_sweep(send, street, berth, django_capture_on_commit_callbacks):
    send(reading(street, "occupied", 0))
    send(reading(street, "vacant", 60))
    assert berths_settle(now=s(60) + HOLD - timedelta(seconds=1)) == []
    assert _free(street) == 9
    with django_capture_on_commit_callbacks() as callbacks:
        assert berths_settle(now=s(60) + HOLD) == [street.pk]
    assert len(callbacks) == 1  # the lot is published after commit
    assert _state(berth) == ("vacant", "")
    assert _free(street) == 10


def test_the_sweep_is_a_task(send, street, berth, time_machine):
    send(reading(street, "occupied", 0))
    send(reading(street, "vacant", 60))
    time_machine.move_to(s(60) + HOLD + timedelta(seconds=1))
    assert settle_berths() == 1
    assert _free(street) == 10


def test_a_busy_lot_settles_other_berths_when_any_sensor_reports(send, street, berth):
    other = BerthFactory(lot=street, code="A02")
    send(reading(street, "occupied", 0), reading(street, "occupied", 0, code="A02"))
    send(reading(street, "vacant", 60))
    send(reading(street, "occupied", 60 + BERTH_DEBOUNCE_S, code="A02"))
    assert _state(berth) == ("vacant", "")
    assert _state(other) == ("occupied", "")
    assert _free(street) == 9


def test_a_late_reading_is_ignored(send, street, berth):
    send(reading(street, "occupied", 100))
    send(reading(street, "vacant", 50))
    assert _state(berth) == ("occupied", "")
    assert berth.reading_at == s(100)


def test_a_berth_out_of_service_ignores_sensors(send, street, berth):
    Berth.objects.filter(pk=berth.pk).update(state=Berth.State.OUT_OF_SERVICE)
    send(reading(street, "occupied", 0))
    assert _state(berth) == ("out_of_service", "")
    assert _free(street) == 10


def test_off_street_berths_change_state_but_not_the_count(send):
    garage = LotFactory(total_berths=10, free_berths=10)
    berth = BerthFactory(lot=garage, code="B1-001")
    device = DeviceFactory.issue(lots=[garage])[0]
    events_record(device=device, events=[event(garage, "berth_occupied", at=s(0), berth_code="B1-001")], now=s(0))
    assert _state(berth) == ("occupied", "")
    assert _free(garage) == 10


def test_a_camera_naming_the_berth_moves_the_count_once(send, street, berth):
    send(entry_event(street, "苏B12345", at=s(0), berth_code="A01"), reading(street, "occupied", 1))
    assert _state(berth) == ("occupied", "")
    assert _free(street) == 9
    assert ParkingSession.objects.get().berth == berth
    body = send(exit_event(street, "苏B12345", at=s(600)), reading(street, "vacant", 601))
    assert body["results"][0]["session"]["release"] is True
    assert _state(berth) == ("vacant", "")
    assert _free(street) == 10


def test_on_street_entries_without_a_berth_move_the_count_themselves(send, street):
    send(entry_event(street, "苏B12345", at=s(0)))
    assert _free(street) == 9
