"""Occupancy pushes across real processes: two daphne servers sharing Redis, and the embedded mode
where the connectivity watcher runs in a process of its own beside one server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import DeviceFactory, LotFactory
from tests.realtime.live import (
    live_servers,
    lot_in,
    occupancy_socket,
    post_entry,
    process_options,
    receive_until,
    run_watcher,
    shared_database_name,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def gate(db):
    lot = LotFactory(code="MP-1", total_berths=100, free_berths=100)
    device, secret = DeviceFactory.issue(lots=[lot])
    return {"lot": lot, "access_key": device.access_key, "secret": secret}


@pytest.mark.redis
@pytest.mark.postgres
def test_an_entry_posted_to_one_server_reaches_a_socket_on_another(gate, tmp_path):
    options = process_options(shared_database_name(tmp_path))
    assert "channel_prefix" in options  # the servers must share this run's Redis namespace
    with live_servers(2, options) as (server_a, server_b), occupancy_socket(server_a) as socket:
        snapshot = receive_until(socket, lambda m: lot_in(m, "MP-1") is not None, timeout=5)
        assert lot_in(snapshot, "MP-1")["free_berths"] == 100

        response = post_entry(server_b, access_key=gate["access_key"], secret=gate["secret"], lot_code="MP-1")
        posted = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1

        message = receive_until(socket, lambda m: (lot_in(m, "MP-1") or {}).get("free_berths") == 99, timeout=3)
        latency = time.monotonic() - posted
        print(f"push_latency_s={latency:.3f}")  # shown with -s or -rP
        assert set(lot_in(message, "MP-1")) == {"code", "free_berths", "total_berths", "status", "updated_at"}
        assert latency < 2.0, f"{latency:.2f} s from server B's response to server A's socket"


def test_embedded_server_hears_the_watcher_process_and_its_own_ingest(gate, tmp_path):
    """No Redis: the watcher's publish crosses processes as a ChangeMarker; ingest publishes in-process."""
    silent = LotFactory(code="MP-2", total_berths=10, free_berths=10,
                        last_seen_at=timezone.now() - timedelta(minutes=20))
    options = process_options(shared_database_name(tmp_path), in_memory_layer=True)
    options.pop("channel_prefix", None)
    with live_servers(1, options) as (server,), occupancy_socket(server) as socket:
        snapshot = receive_until(socket, lambda m: lot_in(m, "MP-2") is not None, timeout=5)
        assert lot_in(snapshot, "MP-2")["status"] == "open"

        assert run_watcher(options) == [silent.pk]
        marked = time.monotonic()
        receive_until(socket, lambda m: (lot_in(m, "MP-2") or {}).get("status") == "offline", timeout=3)
        watcher_latency = time.monotonic() - marked

        response = post_entry(server, access_key=gate["access_key"], secret=gate["secret"], lot_code="MP-1")
        posted = time.monotonic()
        assert response.status_code == 200, response.text
        receive_until(socket, lambda m: (lot_in(m, "MP-1") or {}).get("free_berths") == 99, timeout=3)
        ingest_latency = time.monotonic() - posted
    print(f"watcher_latency_s={watcher_latency:.3f}")  # shown with -s or -rP
    print(f"ingest_latency_s={ingest_latency:.3f}")  # shown with -s or -rP
    assert watcher_latency < 2.0
    assert ingest_latency < 2.0
