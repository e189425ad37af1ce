"""Ingest through a real PostgreSQL restart (issue 12, robustness; the drill in docs/benchmarks.md).

A throwaway PostgreSQL (tests/robustness/services.py) holds a copy of the migrated test database; a
daphne server process ingests on it. The test posts signed batches, stops PostgreSQL (``pg_ctl stop
-m fast``, what a restart does first), posts again, starts it again and redelivers, then reads the
database: a batch sent while the database was down was answered 503 with ``Retry-After`` and SPEC §1's
``service_unavailable`` body and left nothing behind; redelivered, it is stored exactly once.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from apps.sessions.signing import signed_headers
from tests.factories import DeviceFactory, LotFactory
from tests.robustness.services import ServerProcess, ThrowawayPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INGEST = "/api/v1/ingest/events"
DRILL_DB = "wxp_drill"


def batch(lot_code: str, plates: list[str]) -> list[dict]:
    now = timezone.localtime().isoformat()
    return [{"event_id": f"drill-{uuid.uuid4().hex[:12]}", "type": "entry", "lot_code": lot_code,
             "occurred_at": now, "plate": plate, "plate_color": "blue"} for plate in plates]


def post(server: ServerProcess, gate: dict, events: list[dict], *, timeout: float = 30) -> httpx.Response:
    """One delivery of a batch: a fresh signature and nonce each time, as a lot system resends."""
    body = json.dumps({"events": events}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               **signed_headers(gate["access_key"], gate["secret"], "POST", INGEST, body)}
    return httpx.post(server.url + INGEST, content=body, headers=headers, timeout=timeout)


def stored(database_url: str) -> dict:
    with psycopg.connect(database_url, autocommit=True) as own, own.cursor() as cursor:
        cursor.execute("SELECT event_id, count(*) FROM parking_sessions_ingestevent GROUP BY event_id")
        events = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM parking_sessions_parkingsession")
        (sessions,) = cursor.fetchone()
        cursor.execute("SELECT free_berths FROM lots_parkinglot WHERE code = 'DRILL-PG'")
        (free,) = cursor.fetchone()
    return {"events": events, "sessions": sessions, "free_berths": free}


@pytest.fixture
def drill():
    """The gate's lot and key, committed to the test database, copied to a throwaway PostgreSQL that a
    server process ingests on."""
    lot = LotFactory(code="DRILL-PG", total_berths=100, free_berths=100)
    device, secret = DeviceFactory.issue(lots=[lot])
    postgres = ThrowawayPostgres()
    try:
        postgres.start()
        postgres.copy_database(source=connection.settings_dict, name=DRILL_DB)
        server = ServerProcess(env={"DATABASE_URL": postgres.url(DRILL_DB)},
                               options={"database_name": DRILL_DB}).wait_ready()
        try:
            yield {"postgres": postgres, "server": server, "database_url": postgres.url(DRILL_DB),
                   "gate": {"access_key": device.access_key, "secret": secret, "lot_code": lot.code}}
        finally:
            server.stop()
    finally:
        postgres.close()


def test_ingest_answers_503_while_postgresql_is_down_and_stores_the_redelivered_batch_once(drill):
    postgres, server, gate = drill["postgres"], drill["server"], drill["gate"]

    first = batch(gate["lot_code"], ["苏B10001", "苏B10002"])
    response = post(server, gate, first)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2

    postgres.stop()
    during = batch(gate["lot_code"], ["苏B10003", "苏B10004", "苏B10005"])
    started = time.monotonic()
    refused = post(server, gate, during)
    waited = time.monotonic() - started
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    body = refused.json()
    assert body["error"]["code"] == "service_unavailable"
    assert set(body["error"]) == {"code", "message", "details"}
    for leak in ("Traceback", "OperationalError", "psycopg", str(postgres.port)):
        assert leak not in refused.text
    # The pool gave up on a server that takes no connection at all: the next delivery is not held
    # for the pool's timeout again, it is answered at once (apps/common/db.py, the breaker).
    started = time.monotonic()
    refused_again = post(server, gate, during)
    waited_again = time.monotonic() - started
    assert refused_again.status_code == 503, refused_again.text
    assert refused_again.json()["error"]["code"] == "service_unavailable"
    assert waited_again < 1.0, f"{waited_again:.2f} s"
    print(f"first_503_after_s={waited:.2f} next_503_after_s={waited_again:.2f}")  # -s or -rP; docs/benchmarks.md

    postgres.start()
    # The lot system resends the refused batch after Retry-After (the test does not wait it out: the
    # server must take it whenever it comes).
    started = time.monotonic()
    for _attempt in range(20):
        redelivered = post(server, gate, during)
        if redelivered.status_code != 503:
            break
        time.sleep(0.25)
    recovered = time.monotonic() - started
    assert redelivered.status_code == 200, redelivered.text
    assert redelivered.json()["accepted"] == 3, "the refused batch left nothing behind to be a duplicate of"
    print(f"accepted_again_after_s={recovered:.2f}")

    again = post(server, gate, during)  # its answer lost, the lot system sends it once more
    assert again.status_code == 200
    assert again.json()["duplicates"] == 3

    after = stored(drill["database_url"])
    assert after["events"] == {e["event_id"]: 1 for e in first + during}
    assert after["sessions"] == 5
    assert after["free_berths"] == 95
