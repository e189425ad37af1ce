"""SPEC §3.3 connectivity: heartbeats, the offline watch, outages, and the embedded scheduler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.lots import connectivity
from apps.lots.models import LotOutage, ParkingLot
from apps.lots.tasks import watch_connectivity
from apps.sessions.management.commands import run_scheduler
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import event, signed_post

pytestmark = pytest.mark.django_db


def _seen(minutes_ago: float, now=None, **fields) -> ParkingLot:
    now = now or timezone.now()
    return LotFactory(last_seen_at=now - timedelta(minutes=minutes_ago), **fields)


def test_a_lot_silent_for_ten_minutes_goes_offline_with_an_outage(django_capture_on_commit_callbacks):
    now = timezone.now()
    silent, talking, never = _seen(11, now), _seen(9, now), LotFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        assert connectivity.lots_mark_offline(now=now) == [silent.pk]
    assert len(callbacks) == 1  # published after commit
    silent.refresh_from_db()
    assert silent.offline_since == silent.last_seen_at
    assert silent.public_status == "offline"
    outage = LotOutage.objects.get()
    assert (outage.lot_id, outage.started_at, outage.ended_at) == (silent.pk, silent.last_seen_at, None)
    for lot in (talking, never):
        lot.refresh_from_db()
        assert lot.offline_since is None
    assert never.public_status == "open"  # never reported: not connected, not offline


def test_exactly_the_threshold_is_still_online(settings):
    now = timezone.now()
    lot = LotFactory(last_seen_at=now - timedelta(seconds=settings.LOT_OFFLINE_AFTER_S))
    assert connectivity.lots_mark_offline(now=now) == []
    lot.refresh_from_db()
    assert lot.offline_since is None


def test_watching_again_opens_no_second_outage():
    now = timezone.now()
    lot = _seen(30, now)
    connectivity.lots_mark_offline(now=now)
    assert connectivity.lots_mark_offline(now=now + timedelta(minutes=5)) == []
    assert LotOutage.objects.filter(lot=lot).count() == 1


def test_many_lots_go_offline_in_a_fixed_number_of_queries(django_assert_num_queries):
    now = timezone.now()
    for _ in range(20):
        _seen(15, now)
    with django_assert_num_queries(5):  # savepoint, locking read, UPDATE, INSERT, release
        assert len(connectivity.lots_mark_offline(now=now)) == 20
    assert LotOutage.objects.filter(ended_at__isnull=True).count() == 20


def test_the_next_request_brings_the_lot_back_and_closes_its_outage(api_client, django_capture_on_commit_callbacks):
    lot = _seen(20)
    device, secret = DeviceFactory.issue(lots=[lot])
    connectivity.lots_mark_offline(now=timezone.now())
    with django_capture_on_commit_callbacks() as callbacks:
        response = signed_post(api_client, device, secret, {"events": [event(lot, "heartbeat")]})
    assert response.status_code == 200
    assert len(callbacks) == 1  # the lot's new status is published
    lot.refresh_from_db()
    assert lot.offline_since is None
    assert lot.public_status == "open"
    outage = LotOutage.objects.get()
    assert outage.ended_at == lot.last_seen_at
    assert outage.duration >= timedelta(minutes=20)


def test_the_watch_task_follows_the_clock(api_client, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    lot = LotFactory()
    device, secret = DeviceFactory.issue(lots=[lot])
    signed_post(api_client, device, secret, {"events": [event(lot, "heartbeat")]})
    time_machine.shift(timedelta(minutes=9))
    assert watch_connectivity() == 0
    time_machine.shift(timedelta(minutes=2))
    assert watch_connectivity() == 1
    lot.refresh_from_db()
    assert lot.public_status == "offline"
    assert watch_connectivity.name == "apps.lots.tasks.watch_connectivity"


def test_run_scheduler_once_runs_the_beat_schedule(settings):
    lot = _seen(15)
    settings.CELERY_BEAT_SCHEDULE = {"watch": {"task": "apps.lots.tasks.watch_connectivity", "schedule": 30.0}}
    call_command("run_scheduler", "--once")
    lot.refresh_from_db()
    assert lot.offline_since is not None


def test_run_scheduler_refuses_an_unknown_task(settings):
    settings.CELERY_BEAT_SCHEDULE = {"nope": {"task": "apps.lots.tasks.no_such_task", "schedule": 30.0}}
    with pytest.raises(CommandError, match="no_such_task"):
        call_command("run_scheduler", "--once")


def test_run_scheduler_loop_runs_due_tasks_until_stopped(settings, monkeypatch):
    lot = _seen(15)
    settings.CELERY_BEAT_SCHEDULE = {"watch": {"task": "apps.lots.tasks.watch_connectivity", "schedule": 30.0}}
    sleeps = []
    command = run_scheduler.Command()

    def fake_sleep(seconds):  # the loop's only wait: record it and stop after the first pass
        sleeps.append(seconds)
        command.stop(None, None)

    monkeypatch.setattr(run_scheduler.time, "sleep", fake_sleep)
    monkeypatch.setattr(run_scheduler.signal, "signal", lambda *args: None)
    command.handle(once=False)
    lot.refresh_from_db()
    assert lot.offline_since is not None
    assert sleeps and 0 <= sleeps[0] <= run_scheduler.MAX_SLEEP_S


def test_a_failing_task_does_not_stop_the_scheduler(settings, caplog):
    lot = _seen(15)
    settings.CELERY_BEAT_SCHEDULE = {
        "broken": {"task": "apps.lots.connectivity.lots_mark_offline", "schedule": 30.0},  # needs now=: fails
        "watch": {"task": "apps.lots.tasks.watch_connectivity", "schedule": 30.0},
    }
    call_command("run_scheduler", "--once")
    assert "scheduled task broken failed" in caplog.text
    lot.refresh_from_db()
    assert lot.offline_since is not None
