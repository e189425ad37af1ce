"""Concurrent ingest on PostgreSQL, with real threads and real HTTP requests through the stack:
counts never drift, a duplicate racing itself is stored once, a plate never has two open sessions."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.lots.models import ParkingLot
from apps.sessions.models import IngestEvent, ParkingSession
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, event, exit_event, signed_post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_together(jobs):
    """Run the callables in threads released at the same moment; return their results, raise their errors."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def run(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def _poster(device, secret, batches):
    def post_all():
        client = Client()
        bodies = []
        for events in batches:
            response = signed_post(client, device, secret, {"events": events})
            assert response.status_code == 200, response.content
            bodies.append(response.json())
        return bodies
    return post_all


def test_devices_posting_at_once_never_make_counts_drift():
    # No tariff: every exit is free and released, so each entry takes a berth and each exit gives one back.
    a = LotFactory(total_berths=2000, free_berths=2000, tariff=None)
    b = LotFactory(total_berths=2000, free_berths=2000, tariff=None)
    before = timezone.now() - timedelta(hours=1)
    jobs, expected = [], Counter()
    for n, letter in enumerate("ACDE"):
        device, secret = DeviceFactory.issue(lots=[a, b], name=f"设备{letter}")
        lots = (a, b) if n % 2 else (b, a)  # opposite orders: lots are locked by id, so no deadlock
        batches = []
        for round_ in range(6):
            plates = [f"苏{letter}{round_:02d}{i:03d}" for i in range(20)]
            events = [entry_event(lots[i % 2], p, at=before) for i, p in enumerate(plates)]
            if round_:
                previous = [f"苏{letter}{round_ - 1:02d}{i:03d}" for i in range(0, 20, 2)]  # half leave
                events += [exit_event(lots[i % 2], p) for i, p in zip(range(0, 20, 2), previous, strict=True)]
            batches.append(events)
            for sent in events:
                lot = a if sent["lot_code"] == a.code else b
                expected[lot.pk] += -1 if sent["type"] == "entry" else 1
        jobs.append(_poster(device, secret, batches))
    bodies = [body for bodies in _run_together(jobs) for body in bodies]
    assert sum(body["rejected"] for body in bodies) == 0
    for lot in (a, b):
        lot.refresh_from_db()
        assert lot.free_berths == 2000 + expected[lot.pk]
    total_entries = 4 * 6 * 20
    assert ParkingSession.objects.count() == total_entries
    assert ParkingSession.objects.filter(state="open").count() == total_entries - 4 * 5 * 10


def test_the_same_events_racing_from_two_threads_are_stored_once():
    lot = LotFactory(total_berths=500, free_berths=500, tariff=None)
    device, secret = DeviceFactory.issue(lots=[lot])
    events = [entry_event(lot, f"苏B5{i:04d}") for i in range(50)]
    bodies = [bodies[0] for bodies in _run_together([_poster(device, secret, [events])] * 3)]
    assert sum(body["accepted"] for body in bodies) == 50
    assert sum(body["duplicates"] for body in bodies) == 100
    assert IngestEvent.objects.count() == 50
    assert ParkingSession.objects.count() == 50
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 450


def test_one_plate_entering_from_several_gates_at_once_has_one_open_session():
    lot = LotFactory(total_berths=100, free_berths=100, tariff=None)
    now = timezone.now()
    jobs = []
    for n in range(4):
        device, secret = DeviceFactory.issue(lots=[lot], name=f"闸口{n}")
        jobs.append(_poster(device, secret, [[entry_event(lot, "苏B12345", at=now - timedelta(seconds=n))]]))
    _run_together(jobs)
    assert ParkingSession.objects.filter(plate="苏B12345", state="open").count() == 1
    assert ParkingSession.objects.filter(plate="苏B12345", state="superseded").count() == 3
    assert ParkingLot.objects.get(pk=lot.pk).free_berths == 99


def test_snapshots_racing_from_several_devices_leave_the_newest_one_in_force():
    """Each lot system's snapshot, with entries after it, races the others. Whatever order the
    requests commit in, the count is the newest snapshot moved by what happened after it: the time
    a count stands on is read under the lot's row lock, never stale."""
    lot = LotFactory(total_berths=1000, free_berths=1000, tariff=None)
    base = timezone.now() - timedelta(hours=2)
    batches = {}
    for k in range(12):
        at = base + timedelta(minutes=k)
        snapshot = event(lot, "lot_status", at=at, free_berths=500 + 10 * k)
        entries = [entry_event(lot, f"苏B{k:02d}{i:03d}", at=at + timedelta(seconds=10 + i)) for i in range(k % 3 + 1)]
        batches[k] = [snapshot, *entries]
    jobs = []
    for n in range(4):
        device, secret = DeviceFactory.issue(lots=[lot], name=f"系统{n}")
        jobs.append(_poster(device, secret, [batches[k] for k in range(n, 12, 4)]))  # times interleave
    bodies = [body for bodies in _run_together(jobs) for body in bodies]
    assert sum(body["rejected"] for body in bodies) == 0
    lot.refresh_from_db()
    assert lot.snapshot_at == base + timedelta(minutes=11)
    assert lot.free_berths == 500 + 10 * 11 - (11 % 3 + 1)
