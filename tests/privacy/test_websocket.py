"""Issue 12 item 4: the public WebSocket (/ws/occupancy/, SPEC §4) carries lots, never a plate —
neither in its snapshot nor in the change an entry of a plated car publishes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.utils import timezone

from apps.realtime import hub as hub_module
from apps.realtime.routing import websocket_urlpatterns
from tests.factories_payments import Gate, flat_lot
from tests.realtime.test_consumer import FakeClock, eventually

pytestmark = pytest.mark.django_db(transaction=True)

PLATES = ("浙A7K3P9", "浙AQ8W2R")


@pytest.fixture(autouse=True)
def _close_thread_connections():
    """As tests/realtime does: the hub's reads keep a connection in their worker thread."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


def carries_no_plate(raw: str) -> bool:
    return not any(form in raw for plate in PLATES
                   for form in (plate, plate.encode("unicode_escape").decode(), plate[2:]))


async def test_snapshot_and_changes_carry_no_plate(settings):
    settings.REALTIME_AUTOTICK = False
    clock = FakeClock()
    gate = await database_sync_to_async(lambda: Gate(flat_lot(code="LX-WS1")))()
    await database_sync_to_async(gate.enter)(PLATES[0], at=timezone.now() - timedelta(hours=1))
    hub = hub_module.hub_for_this_loop()
    hub.clock = clock
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/occupancy/")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    snapshot = await communicator.receive_from(timeout=2)
    assert "LX-WS1" in snapshot and carries_no_plate(snapshot)

    await database_sync_to_async(gate.enter)(PLATES[1], at=timezone.now())
    await eventually(lambda: hub.state.get("LX-WS1", {}).get("free_berths") == 98, "the entry published")
    clock.now += 1.0
    await hub.tick()
    change = await communicator.receive_from(timeout=2)
    assert json.loads(change)["lots"][0]["free_berths"] == 98 and carries_no_plate(change)
    await communicator.disconnect()
