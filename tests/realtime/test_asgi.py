"""The project's ASGI application routes /ws/occupancy/ for clients with and without an Origin."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from tests.factories import LotFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("headers", [[], [(b"origin", b"http://127.0.0.1:8000")]], ids=["no-origin", "browser"])
async def test_occupancy_socket_is_public_through_the_project_application(headers):
    from asgiref.sync import sync_to_async

    from wuxi_parking.asgi import application

    await sync_to_async(LotFactory)(code="A-1", total_berths=10, free_berths=3)
    communicator = WebsocketCommunicator(application, "/ws/occupancy/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected  # mini programs and apps send no Origin header
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["type"] == "occupancy"
    assert [lot["code"] for lot in snapshot["lots"]] == ["A-1"]
    await communicator.disconnect()


async def test_unknown_websocket_path_is_refused():
    from wuxi_parking.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/nothing-here/")
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect(timeout=5)
