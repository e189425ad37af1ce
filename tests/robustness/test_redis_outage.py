"""Ingest through a real Redis outage (issue 12, robustness; the drill in docs/benchmarks.md).

A daphne server process runs with a throwaway ``redis-server`` (tests/robustness/services.py) as its
cache, channel layer and broker; a WebSocket client watches ``/ws/occupancy/``. The test kills Redis,
posts an entry, starts Redis again on the same port (empty, as a restarted Redis without persistence
is) and posts another: the events sent during the outage are stored (nonces fall back to the
database), the failed push is one warning line in the log, not an error answered to the lot, and once
Redis is back the next change reaches the connected client again.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

import pytest
from django.db import connection

from apps.sessions.models import IngestEvent
from tests.factories import DeviceFactory, LotFactory
from tests.realtime.live import lot_in, post_entry, receive_until, shared_database_name
from tests.robustness.services import ServerProcess, ThrowawayRedis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CODE = "DRILL-RD"


def stored_events(database_name: str) -> int:
    """The lot's events in the server's database (on SQLite a file copy of the test database)."""
    if connection.vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(database_name)) as copy:
            return copy.execute("SELECT count(*) FROM parking_sessions_ingestevent e JOIN lots_parkinglot l "
                                "ON l.id = e.lot_id WHERE l.code = ?", (CODE,)).fetchone()[0]
    return IngestEvent.objects.filter(lot__code=CODE).count()


def free(message: dict) -> int | None:
    return (lot_in(message, CODE) or {}).get("free_berths")


@pytest.fixture
def drill(tmp_path):
    lot = LotFactory(code=CODE, total_berths=100, free_berths=100)
    device, secret = DeviceFactory.issue(lots=[lot])
    redis = ThrowawayRedis(tmp_path)
    redis.start()
    try:
        database_name = shared_database_name(tmp_path)
        server = ServerProcess(env={"REDIS_URL": redis.url}, options={"database_name": database_name}).wait_ready()
        try:
            yield {"redis": redis, "server": server, "database_name": database_name,
                   "gate": {"access_key": device.access_key, "secret": secret, "lot_code": CODE}}
        finally:
            server.stop()
    finally:
        redis.close()


def test_events_are_stored_while_redis_is_down_and_pushes_resume_when_it_returns(drill):
    from websockets.sync.client import connect

    redis, server, gate = drill["redis"], drill["server"], drill["gate"]
    with connect(f"{server.ws_url}/ws/occupancy/", origin=server.url, open_timeout=10) as socket:
        assert free(receive_until(socket, lambda m: free(m) is not None, timeout=5)) == 100
        assert post_entry(server, **gate, plate="苏B20001").status_code == 200
        receive_until(socket, lambda m: free(m) == 99, timeout=3)

        redis.stop()
        started = time.monotonic()
        during = post_entry(server, **gate, plate="苏B20002")
        answered_in = time.monotonic() - started
        assert during.status_code == 200, during.text
        assert during.json()["accepted"] == 1
        assert stored_events(drill["database_name"]) == 2
        print(f"outage_ingest_s={answered_in:.2f}")  # shown with -s or -rP; docs/benchmarks.md quotes it

        redis.start()  # the same port, and empty: the hub's membership of the group is gone with it
        returned = time.monotonic()
        # The hub reloads what changed while it heard nothing (the entry above) once it is back in the group.
        receive_until(socket, lambda m: free(m) == 98, timeout=10)
        rejoined_in = time.monotonic() - returned
        assert "the channel layer (occupancy hub) answers again" in server.log()
        # The next change is pushed: the publisher's first send meets a connection the old server closed.
        posted = time.monotonic()
        assert post_entry(server, **gate, plate="苏B20003").status_code == 200
        receive_until(socket, lambda m: free(m) == 97, timeout=3)
        print(f"hub_back_after_s={rejoined_in:.2f} push_latency_s={time.monotonic() - posted:.2f}")
    assert stored_events(drill["database_name"]) == 3

    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    # the failed push and the hub's lost receive: one warning each, and each says it is over
    assert log.count("the channel layer is unreachable") == 1, log[-3000:]
    assert log.count("the channel layer (occupancy hub) is unreachable") == 1, log[-3000:]
    assert "the channel layer (occupancy hub) answers again" in log, log[-3000:]

