"""Free-berth counts (SPEC §3.3): clamped moves, snapshots, one UPDATE, publish after commit only."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from apps.lots.fees import SHANGHAI
from apps.lots.models import ParkingLot
from apps.realtime.publish import OCCUPANCY_GROUP
from apps.sessions.models import IngestEvent, ParkingSession
from apps.sessions.services import events_record
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, event, exit_event, signed_post

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 17, 14, 0, tzinfo=SHANGHAI)


def at(hour: int, minute: int = 0) -> datetime:
    return NOW.replace(hour=hour, minute=minute)


def _lot(**fields) -> ParkingLot:
    return LotFactory(tariff=None, **fields)  # no tariff: every exit is free and released


def _record(lots, *events, now=NOW):
    device = DeviceFactory.issue(lots=lots)[0]
    return events_record(device=device, events=list(events), now=now).as_dict()


def _free(lot) -> int:
    return ParkingLot.objects.get(pk=lot.pk).free_berths


def test_entries_never_take_the_count_below_zero():
    lot = _lot(total_berths=10, free_berths=1)
    _record([lot], *(entry_event(lot, f"苏B1000{i}", at=at(10)) for i in range(3)))
    assert _free(lot) == 0


def test_exits_never_take_the_count_above_total():
    lot = _lot(total_berths=10, free_berths=9)
    _record([lot], *(exit_event(lot, f"苏B1000{i}", at=at(10)) for i in range(3)))
    assert _free(lot) == 10


def test_entries_and_exits_move_the_count_and_its_time():
    lot = _lot(total_berths=10, free_berths=10)
    _record([lot], entry_event(lot, "苏B10001", at=at(9)), entry_event(lot, "苏B10002", at=at(9)),
            exit_event(lot, "苏B10001", at=at(10)))
    lot.refresh_from_db()
    assert lot.free_berths == 9
    assert lot.occupancy_updated_at == NOW


def test_a_snapshot_sets_the_count():
    lot = _lot(total_berths=100, free_berths=100)
    _record([lot], event(lot, "lot_status", at=at(10), free_berths=42, total_berths=100))
    assert _free(lot) == 42


def test_a_snapshot_over_the_registered_total_is_clamped():
    lot = _lot(total_berths=100, free_berths=10)
    _record([lot], event(lot, "lot_status", at=at(10), free_berths=130, total_berths=150))
    assert _free(lot) == 100


def test_moves_after_the_snapshot_count_and_moves_before_it_do_not():
    lot = _lot(total_berths=100, free_berths=100)
    _record([lot], event(lot, "lot_status", at=at(10), free_berths=40))
    _record([lot], entry_event(lot, "苏B10001", at=at(9, 50)))  # late: already in the lot's own count
    assert _free(lot) == 40
    _record([lot], entry_event(lot, "苏B10002", at=at(10, 5)))
    assert _free(lot) == 39


def test_an_older_snapshot_arriving_late_is_ignored():
    lot = _lot(total_berths=100, free_berths=100)
    _record([lot], event(lot, "lot_status", at=at(10), free_berths=40))
    _record([lot], event(lot, "lot_status", at=at(9), free_berths=7), entry_event(lot, "苏B10001", at=at(10, 1)))
    assert _free(lot) == 39


def test_the_lot_keeps_the_time_of_the_snapshot_its_count_stands_on():
    lot = _lot(total_berths=100, free_berths=100)
    _record([lot], entry_event(lot, "苏B10001", at=at(9)))
    lot.refresh_from_db()
    assert lot.snapshot_at is None
    _record([lot], event(lot, "lot_status", at=at(10), free_berths=40))
    lot.refresh_from_db()
    assert lot.snapshot_at == at(10)
    _record([lot], event(lot, "lot_status", at=at(9), free_berths=7))  # late and older: ignored
    lot.refresh_from_db()
    assert (lot.snapshot_at, lot.free_berths) == (at(10), 40)
    _record([lot], event(lot, "lot_status", at=at(11), free_berths=20), entry_event(lot, "苏B10002", at=at(12)))
    lot.refresh_from_db()
    assert (lot.snapshot_at, lot.free_berths) == (at(11), 19)


def test_deciding_what_moves_the_count_never_reads_the_event_log():
    """The newest snapshot's time is on the lot row (read under its lock), not a MAX over every
    lot_status event the lot ever sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lot = _lot(total_berths=100, free_berths=100)
    device = DeviceFactory.issue(lots=[lot])[0]
    events_record(device=device, events=[event(lot, "lot_status", at=at(9), free_berths=50)], now=NOW)
    with CaptureQueriesContext(connection) as queries:
        events_record(device=device, events=[event(lot, "lot_status", at=at(10), free_berths=40),
                                             entry_event(lot, "苏B10001", at=at(10, 5))], now=NOW)
    reads = [q["sql"] for q in queries.captured_queries
             if q["sql"].lstrip().upper().startswith("SELECT") and "ingestevent" in q["sql"].lower()]
    assert not [sql for sql in reads if "MAX(" in sql.upper()]
    assert _free(lot) == 39


def test_lots_with_snapshots_before_the_upgrade_get_their_snapshot_time():
    """The migration that added ParkingLot.snapshot_at fills it from the event log."""
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("apps.sessions.migrations.0002_lot_snapshot_at").backfill_snapshot_at
    lot, quiet = _lot(total_berths=100, free_berths=100), _lot()
    _record([lot], event(lot, "lot_status", at=at(9), free_berths=50), event(lot, "lot_status", at=at(10),
                                                                              free_berths=40))
    _record([quiet], entry_event(quiet, "苏B10001", at=at(9)))
    ParkingLot.objects.update(snapshot_at=None)
    backfill(apps, None)
    assert dict(ParkingLot.objects.values_list("pk", "snapshot_at")) == {lot.pk: at(10), quiet.pk: None}


def test_the_latest_snapshot_in_a_batch_wins_and_later_moves_apply():
    lot = _lot(total_berths=100, free_berths=100)
    _record([lot],
            entry_event(lot, "苏B10001", at=at(9, 59)),
            event(lot, "lot_status", at=at(10), free_berths=40),
            event(lot, "lot_status", at=at(9), free_berths=70),
            entry_event(lot, "苏B10002", at=at(10, 1)),
            entry_event(lot, "苏B10003", at=at(10, 2)))
    assert _free(lot) == 38


def test_a_duplicate_snapshot_changes_nothing():
    lot = _lot(total_berths=100, free_berths=100)
    snapshot = event(lot, "lot_status", at=at(10), free_berths=40)
    _record([lot], snapshot)
    _record([lot], entry_event(lot, "苏B10001", at=at(10, 5)))
    _record([lot], snapshot)
    assert _free(lot) == 39


def test_two_lots_in_one_batch_move_separately_in_one_update(django_assert_num_queries):
    a, b, quiet = _lot(total_berths=10, free_berths=5), _lot(total_berths=10, free_berths=5), _lot()
    device = DeviceFactory.issue(lots=[a, b, quiet])[0]
    events = [entry_event(a, "苏B10001", at=at(10)), exit_event(b, "苏B10002", at=at(10)),
              exit_event(b, "苏B10003", at=at(10)), event(quiet, "heartbeat", at=at(10))]
    events_record(device=device, events=events, now=NOW)
    assert (_free(a), _free(b), _free(quiet)) == (4, 7, 100)
    quiet.refresh_from_db()
    assert quiet.last_seen_at == NOW and quiet.occupancy_updated_at is None


@pytest.mark.parametrize("kind", ["entries", "mixed"])
def test_a_batch_of_100_costs_a_bounded_number_of_queries(api_client, django_assert_max_num_queries, kind):
    lot = LotFactory(total_berths=500, free_berths=500)
    device, secret = DeviceFactory.issue(lots=[lot])
    before = timezone.now() - timedelta(hours=2)
    plates = [f"苏B2{i:04d}" for i in range(100)]
    signed_post(api_client, device, secret, {"events": [entry_event(lot, p, at=before) for p in plates[:50]]})
    if kind == "entries":
        events = [entry_event(lot, p, at=before) for p in plates]
    else:
        events = ([exit_event(lot, p) for p in plates[:50]] + [entry_event(lot, p) for p in plates[50:90]]
                  + [event(lot, "lot_status", free_berths=300)] + [event(lot, "heartbeat")] * 1
                  + [exit_event(lot, f"苏B3{i:04d}") for i in range(8)])
    # 20: the request's whole cost, the nonce's database check (replay protection that outlasts a
    # cache outage), the payment agreements' one release-port query and the batch's tariffs (read
    # once each) included; none of it grows with the batch. On SQLite the lots' live columns are
    # read before their write (PostgreSQL decides the counts in the statement that writes them).
    with django_assert_max_num_queries(20):
        response = signed_post(api_client, device, secret, {"events": events})
    assert response.status_code == 200
    assert response.json()["rejected"] == 0


@pytest.mark.postgres
def test_a_batch_holds_its_lots_locked_only_for_what_needs_them():
    """The checks, the idempotent insert of the events, the release port and the batch's reckoning
    (its sessions and free windows read, its stays priced) come before the lots' row lock, and its
    writes are built then too. Under the lock a mixed batch of 100 makes two round trips before its
    commit: the lock with the check that its sessions are still the versions it read, then every
    write at once (it was 11 of 12 when the lock came first, 9 when the reckoning was done under it,
    8 when the writes went one statement each)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lot = LotFactory(total_berths=500, free_berths=500)
    device = DeviceFactory.issue(lots=[lot])[0]
    before = timezone.now() - timedelta(hours=2)
    plates = [f"苏B2{i:04d}" for i in range(100)]
    events_record(device=device, events=[entry_event(lot, p, at=before) for p in plates[:45]])
    batch = [exit_event(lot, p) for p in plates[:45]] + [entry_event(lot, p) for p in plates[45:]]
    with CaptureQueriesContext(connection) as queries:
        body = events_record(device=device, events=batch).as_dict()
    assert body["accepted"] == 100
    statements = [q["sql"] for q in queries.captured_queries]
    lock = next(i for i, sql in enumerate(statements) if "lots_parkinglot" in sql and "FOR NO KEY UPDATE" in sql)
    locked = statements[lock:]
    commit = next(i for i, sql in enumerate(locked) if '"lots_device"' in sql)
    assert len(locked[:commit + 1]) == 2, locked
    check, writes = (sql.split(";\n") for sql in locked[:2])
    assert [sql.startswith("SELECT") and "FOR NO KEY UPDATE" in sql for sql in check] == [True, True], check
    assert "xmin" in check[1]
    assert [sql.split()[:3] for sql in writes] == [
        ["UPDATE", '"parking_sessions_parkingsession"', "SET"],  # the 45 exits
        ["INSERT", "INTO", '"parking_sessions_parkingsession"'],  # the 55 entries
        ["UPDATE", '"parking_sessions_ingestevent"', "SET"],  # the events' links
        ["WITH", "v", "AS"],  # the lot's count
        ["UPDATE", '"lots_device"', "SET"],  # the heartbeat, last
    ], writes
    assert not [sql for sql in locked if "lots_freewindow" in sql or "INTO \"parking_sessions_ingestevent\"" in sql]
    assert len(statements) <= 16, statements  # the versions checked under the lock, and one to allocate keys
    assert ParkingSession.objects.filter(lot=lot, state=ParkingSession.State.OPEN).count() == 55
    assert _free(lot) == 500 - 55 - sum(1 for r in body["results"]
                                        if r.get("session") and r["session"]["release"] is False)


def test_text_a_lot_system_sends_goes_through_the_joined_writes_as_sent():
    """The writes under the lock travel as one query text with their parameters merged into it on our
    side (apps.common.statements): placeholders, quotes, semicolons and comment marks in what a lot
    system sends stay data, in SQLite's one-by-one path as in PostgreSQL's joined one."""
    lot = LotFactory(total_berths=50, free_berths=50)
    device = DeviceFactory.issue(lots=[lot])[0]
    odd = ["%s", "%%s'; DROP TABLE lots_parkinglot; --", "a\\b", "{x},\"y\"", "/* c */"]
    now = timezone.now()
    batch = [entry_event(lot, f"苏B6{i:04d}", at=now - timedelta(minutes=30 - i), event_id=f"{text}-{i}",
                         gate=text, note={"text": text}) for i, text in enumerate(odd)]
    batch.append(exit_event(lot, "苏B60000", at=now - timedelta(minutes=5), event_id="%s-exit", gate=odd[1]))
    body = events_record(device=device, events=batch).as_dict()
    assert (body["accepted"], body["rejected"]) == (6, 0), body
    stored = {e.event_id: e for e in IngestEvent.objects.filter(lot=lot)}
    assert sorted(stored) == sorted(e["event_id"] for e in batch)
    for raw in batch:
        assert stored[raw["event_id"]].payload["gate"] == raw["gate"]
        assert stored[raw["event_id"]].session_id is not None
    session = ParkingSession.objects.get(plate="苏B60000")
    assert (session.entry_event_id, session.exit_event_id) == ("%s-0", "%s-exit")
    assert ParkingLot.objects.filter(pk=lot.pk).exists() and _free(lot) == 50 - 4 - (
        0 if body["results"][-1]["session"]["release"] else 1)


# -- publishing --------------------------------------------------------------------------------

async def _receive(layer, channel, timeout=0.5):
    try:
        return await asyncio.wait_for(layer.receive(channel), timeout)
    except TimeoutError:
        return None


@pytest.fixture
def subscriber(monkeypatch):
    from apps.realtime import hub

    # As in a server process: its hub listens on the occupancy group (the realtime app's own tests
    # cover the marker path that processes without WebSockets take).
    monkeypatch.setattr(hub, "_serves_websockets", True)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(OCCUPANCY_GROUP, channel)
    yield lambda: async_to_sync(_receive)(layer, channel)
    async_to_sync(layer.group_discard)(OCCUPANCY_GROUP, channel)


def test_changed_lots_are_published_after_commit(django_capture_on_commit_callbacks, subscriber):
    lot = _lot(total_berths=10, free_berths=10)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _record([lot], entry_event(lot, "苏B10001", at=at(10)))
    assert len(callbacks) == 1
    message = subscriber()
    assert message["type"] == "occupancy.changed"
    assert [(p["code"], p["free_berths"], p["status"]) for p in message["lots"]] == [(lot.code, 9, "open")]


def test_a_heartbeat_alone_publishes_nothing(django_capture_on_commit_callbacks, subscriber):
    lot = _lot()
    lot.last_seen_at = NOW - timedelta(minutes=1)
    lot.save()
    with django_capture_on_commit_callbacks(execute=True):
        _record([lot], event(lot, "heartbeat", at=at(10)))
    assert subscriber() is None


def test_nothing_is_published_when_the_transaction_rolls_back(django_capture_on_commit_callbacks, subscriber):
    lot = _lot(total_berths=10, free_berths=10)
    device = DeviceFactory.issue(lots=[lot])[0]
    with (django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError),
          transaction.atomic()):
        events_record(device=device, events=[entry_event(lot, "苏B10001", at=at(10))], now=NOW)
        raise RuntimeError("the caller's transaction fails after recording")
    assert callbacks == []
    assert subscriber() is None
    assert _free(lot) == 10
