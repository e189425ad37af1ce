"""Once the pool gave up on the database, ingest does not wait its whole timeout again on every
request (apps/common/db.py ``_Breaker``): the next batches are answered 503 at once, one request a
``PROBE_EVERY_S`` asks the pool again, and a pool that never gave up is not held back."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client

from apps.common import db
from apps.sessions.models import IngestEvent
from tests.factories import DeviceFactory, LotFactory
from tests.factories_sessions import entry_event, signed_post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gate():
    lot = LotFactory(total_berths=100, free_berths=100)
    device, secret = DeviceFactory.issue(lots=[lot])
    return lot, device, secret


@pytest.fixture
def pool_of_a_database_that_is_down():
    """The connection's pool replaced by one that can never connect (what a stopped server is to it)."""
    from django.db.backends.postgresql.base import DatabaseWrapper
    from psycopg_pool import ConnectionPool

    connection.close()
    real = DatabaseWrapper._connection_pools[connection.alias]
    down = ConnectionPool("host=127.0.0.1 port=1 dbname=nothing user=postgres connect_timeout=1",
                          open=False, min_size=1, timeout=1)
    DatabaseWrapper._connection_pools[connection.alias] = down

    def restore():
        connection.close()
        DatabaseWrapper._connection_pools[connection.alias] = real

    down.restore = restore
    try:
        yield down
    finally:
        restore()
        down.close()


def _timed_batch(gate, plate):
    lot, device, secret = gate
    started = time.monotonic()
    response = signed_post(Client(), device, secret, {"events": [entry_event(lot, plate)]})
    return response, time.monotonic() - started


def test_after_the_pool_gave_up_the_next_batch_is_503_at_once(gate, pool_of_a_database_that_is_down):
    down = pool_of_a_database_that_is_down
    first, waited = _timed_batch(gate, "苏B30001")
    assert first.status_code == 503 and first["Retry-After"] == str(db.RETRY_AFTER_S)
    assert waited >= 0.9, "the first request waits the pool's timeout: the pool decides the database is down"
    asked = down.get_stats().get("requests_num", 0)

    second, waited = _timed_batch(gate, "苏B30002")
    assert second.status_code == 503, second.content
    assert second.json()["error"]["code"] == "service_unavailable"
    assert second["Retry-After"] == str(db.RETRY_AFTER_S)
    assert waited < 0.5, f"{waited:.2f} s: the breaker should answer without waiting on the pool"
    assert down.get_stats().get("requests_num", 0) == asked, "the pool was not asked again"


def test_once_a_probe_interval_passed_one_request_asks_the_pool_again(gate, pool_of_a_database_that_is_down,
                                                                      monkeypatch):
    down = pool_of_a_database_that_is_down
    assert _timed_batch(gate, "苏B30001")[0].status_code == 503
    asked = down.get_stats().get("requests_num", 0)
    monkeypatch.setattr(db, "PROBE_EVERY_S", 0.0)
    probe, waited = _timed_batch(gate, "苏B30002")
    assert probe.status_code == 503
    assert waited >= 0.9 and down.get_stats().get("requests_num", 0) > asked


def test_the_database_back_behind_a_pool_that_answers_is_not_held_back(gate, pool_of_a_database_that_is_down):
    """The breaker holds the pool that gave up, not the database: the working pool serves at once."""
    assert _timed_batch(gate, "苏B30001")[0].status_code == 503
    pool_of_a_database_that_is_down.restore()
    response, _waited = _timed_batch(gate, "苏B30002")
    assert response.status_code == 200, response.content
    assert IngestEvent.objects.count() == 1
