"""Issue 12 item 6: connected viewers (counted at the ASGI edge) and the push lag (measured by each hub)."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from apps.common import metrics
from apps.common.observability import WebSocketViewers, open_sockets
from apps.realtime import hub as hub_module
from apps.realtime.publish import publish_lots
from apps.realtime.routing import websocket_urlpatterns
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db(transaction=True)

application = WebSocketViewers(URLRouter(websocket_urlpatterns))


def _series(name: str) -> float:
    counted, gauges = metrics.collect()
    return {**counted, **gauges}.get((name, ()), 0.0)


async def _eventually(condition, what: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


def test_the_projects_websocket_routes_are_counted():
    from wuxi_parking.asgi import application as project

    assert isinstance(project.application_mapping["websocket"], WebSocketViewers)


async def test_viewers_are_counted_while_connected_and_each_push_records_its_lag():
    lot = await database_sync_to_async(LotFactory)(total_berths=10, free_berths=10)
    lag_count = await database_sync_to_async(_series)("wxp_push_lag_seconds_count")
    first, second = WebsocketCommunicator(application, "/ws/occupancy/"), WebsocketCommunicator(
        application, "/ws/occupancy/")
    assert (await first.connect(timeout=5))[0] and (await second.connect(timeout=5))[0]
    try:
        assert open_sockets() == 2
        assert await database_sync_to_async(_series)("wxp_ws_viewers") == 2

        await database_sync_to_async(publish_lots)([lot.pk])

        async def lag_recorded():
            return await database_sync_to_async(_series)("wxp_push_lag_seconds_count") == lag_count + 1

        await _eventually(lag_recorded, "the hub recording the push lag")
        assert hub_module.hub_for_this_loop().running
    finally:
        await first.disconnect()
    assert open_sockets() == 1
    await second.disconnect()
    assert open_sockets() == 0
    assert await database_sync_to_async(_series)("wxp_ws_viewers") == 0
