"""/ws/occupancy/ (SPEC §4) through channels' WebsocketCommunicator.

Most tests tick the hub by hand with a fake clock (REALTIME_AUTOTICK off), so coalescing and the
one-message-a-second rule are checked exactly, without sleeping through real seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.utils import timezone

from apps.lots.models import ParkingLot
from apps.realtime import hub as hub_module
from apps.realtime.models import ChangeMarker
from apps.realtime.publish import publish_lots, publish_lots_after_commit
from apps.realtime.routing import websocket_urlpatterns
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_KEYS = {"code", "free_berths", "total_berths", "status", "updated_at"}
application = URLRouter(websocket_urlpatterns)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def manual(settings):
    """Hubs tick only when the test says so, with a clock the test moves."""
    settings.REALTIME_AUTOTICK = False
    settings.REALTIME_TICK_SECONDS = 1.0
    return FakeClock()


@pytest.fixture
def lots(db):
    """Three lots in central Wuxi and one far out in Yixing."""
    return {
        "a": LotFactory(code="A-1", lat=31.570, lon=120.300, total_berths=100, free_berths=40),
        "b": LotFactory(code="B-1", lat=31.575, lon=120.305, total_berths=50, free_berths=0),
        "c": LotFactory(code="C-1", lat=31.580, lon=120.310, total_berths=20, free_berths=5),
        "far": LotFactory(code="YX-1", lat=31.360, lon=119.820, total_berths=30, free_berths=30),
    }


async def connect(path: str = "/ws/occupancy/", clock: FakeClock | None = None):
    hub = hub_module.hub_for_this_loop()
    if clock is not None:
        hub.clock = clock
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator, hub


@database_sync_to_async
def set_free(lot: ParkingLot, free: int, *, publish: bool = True) -> None:
    ParkingLot.objects.filter(pk=lot.pk).update(free_berths=free, occupancy_updated_at=timezone.now())
    if publish:
        publish_lots([lot.pk])


async def eventually(condition, what: str, timeout: float = 3.0) -> None:
    """Publishing goes through the channel layer (Redis when configured): wait until it has landed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def change(hub, lot: ParkingLot, free: int) -> None:
    """Move a lot's count, publish it, and wait for the hub to have it."""
    await set_free(lot, free)
    await eventually(lambda: hub.state.get(lot.code, {}).get("free_berths") == free, f"{lot.code} at {free}")


async def subscribe(communicator, hub, bbox) -> None:
    await communicator.send_json_to({"type": "subscribe", "bbox": bbox})
    await eventually(lambda: all(outbox.awaiting_snapshot for outbox in hub.outboxes), "the subscription")


async def tick(hub, clock: FakeClock, seconds: float = 1.0) -> None:
    clock.advance(seconds)
    await hub.tick()


async def receive(communicator, timeout: float = 2.0) -> dict:
    return json.loads(await communicator.receive_from(timeout=timeout))


def counts(message: dict) -> list[tuple[str, int]]:
    return sorted((lot["code"], lot["free_berths"]) for lot in message["lots"])


async def test_snapshot_on_connect_has_every_lot_in_the_spec_shape(manual, lots):
    await database_sync_to_async(ParkingLot.objects.filter(pk=lots["c"].pk).update)(status="closed")
    communicator, _ = await connect(clock=manual)
    message = await receive(communicator)
    assert message["type"] == "occupancy"
    assert set(message) == {"type", "lots"}
    by_code = {lot["code"]: lot for lot in message["lots"]}
    assert set(by_code) == {"A-1", "B-1", "C-1", "YX-1"}
    assert all(set(lot) == PUBLIC_KEYS for lot in message["lots"])  # lat/lon stay on the server
    assert by_code["A-1"]["free_berths"] == 40 and by_code["A-1"]["total_berths"] == 100
    assert by_code["A-1"]["status"] == "open"
    assert by_code["B-1"]["status"] == "full"
    assert by_code["C-1"]["status"] == "closed"
    assert datetime.fromisoformat(by_code["A-1"]["updated_at"]).utcoffset() == timedelta(hours=8)  # as REST
    await communicator.disconnect()


async def test_snapshot_can_be_skipped(manual, lots):
    communicator, hub = await connect("/ws/occupancy/?snapshot=0", clock=manual)
    assert await communicator.receive_nothing(timeout=0.2)
    await change(hub, lots["a"], 39)
    await tick(hub, manual)
    message = await receive(communicator)
    assert [lot["code"] for lot in message["lots"]] == ["A-1"]
    await communicator.disconnect()


async def test_many_changes_coalesce_into_one_message_with_only_the_changed_lots(manual, lots):
    communicator, hub = await connect(clock=manual)
    await receive(communicator)  # the snapshot
    for free in range(39, 19, -1):
        await set_free(lots["a"], free)
    await change(hub, lots["c"], 4)
    await eventually(lambda: hub.state["A-1"]["free_berths"] == 20, "the last of A-1's changes")
    assert await communicator.receive_nothing(timeout=0.2)  # nothing before the tick

    await tick(hub, manual)
    message = await receive(communicator)
    assert counts(message) == [("A-1", 20), ("C-1", 4)]
    assert await communicator.receive_nothing(timeout=0.2)  # one message for the whole tick

    await tick(hub, manual)
    assert await communicator.receive_nothing(timeout=0.2)  # nothing changed, nothing sent
    await communicator.disconnect()


async def test_at_most_one_message_a_second(manual, lots):
    communicator, hub = await connect(clock=manual)
    await receive(communicator)  # snapshot at t=0

    await change(hub, lots["a"], 30)
    await tick(hub, manual, 0.5)
    assert await communicator.receive_nothing(timeout=0.2)  # too soon after the snapshot

    await change(hub, lots["a"], 29)
    await tick(hub, manual, 0.5)
    message = await receive(communicator)
    assert counts(message) == [("A-1", 29)]

    # Ticks faster than the interval (a hub that fell behind) still give one message a second.
    await change(hub, lots["c"], 3)
    await tick(hub, manual, 0.3)
    assert await communicator.receive_nothing(timeout=0.2)
    await tick(hub, manual, 0.7)
    message = await receive(communicator)
    assert counts(message) == [("C-1", 3)]
    await communicator.disconnect()


async def test_bbox_subscription_sends_the_box_then_only_changes_inside_it(manual, lots):
    communicator, hub = await connect(clock=manual)
    await receive(communicator)
    await subscribe(communicator, hub, [120.29, 31.565, 120.302, 31.572])
    await tick(hub, manual)
    message = await receive(communicator)
    assert [lot["code"] for lot in message["lots"]] == ["A-1"]  # the box's snapshot

    await change(hub, lots["a"], 10)
    await change(hub, lots["far"], 1)
    await tick(hub, manual)
    message = await receive(communicator)
    assert counts(message) == [("A-1", 10)]

    await change(hub, lots["far"], 2)
    await tick(hub, manual)
    assert await communicator.receive_nothing(timeout=0.2)  # outside the box

    await subscribe(communicator, hub, None)  # back to the whole city
    await tick(hub, manual)
    message = await receive(communicator)
    assert {lot["code"] for lot in message["lots"]} == {"A-1", "B-1", "C-1", "YX-1"}
    await communicator.disconnect()


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ('{"type": "unsubscribe"}', "unknown_message_type"),
    ("[1, 2]", "unknown_message_type"),
    ('{"type": "subscribe"}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": [120.2, 31.5, 120.4]}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": "120.2,31.5,120.4,31.7"}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": [120.2, 31.7, 120.4, 31.5]}', "invalid_bbox"),  # minLat > maxLat
    ('{"type": "subscribe", "bbox": [120.2, 31.5, 190, 31.7]}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": [true, 31.5, 120.4, 31.7]}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": [NaN, 31.5, 120.4, 31.7]}', "invalid_bbox"),
    ('{"type": "subscribe", "bbox": [' + "1," * 600 + "1]}", "invalid_message"),  # too long
]


async def test_a_bad_client_message_gets_an_error_and_the_connection_lives_on(manual, lots):
    communicator, hub = await connect(clock=manual)
    await receive(communicator)
    for frame, code in BAD_FRAMES:
        await communicator.send_to(text_data=frame)
        error = await receive(communicator)
        assert error["type"] == "error", frame
        assert error["error"]["code"] == code, frame
        assert error["error"]["message"]
        assert isinstance(error["error"]["details"], dict)

    await subscribe(communicator, hub, [119.5, 31.0, 120.0, 31.5])
    await tick(hub, manual)
    message = await receive(communicator)
    assert [lot["code"] for lot in message["lots"]] == ["YX-1"]
    await communicator.disconnect()


async def test_a_binary_frame_is_refused(manual, lots):
    communicator, _ = await connect(clock=manual)
    await receive(communicator)
    await communicator.send_to(bytes_data=b"\x00\x01")
    error = await receive(communicator)
    assert error["error"]["code"] == "invalid_message"
    await communicator.disconnect()


async def test_connections_share_one_hub_and_the_last_one_out_stops_it(manual, lots):
    first, hub = await connect(clock=manual)
    second, same = await connect(clock=manual)
    assert same is hub and len(hub.outboxes) == 2
    await receive(first)
    await receive(second)
    await change(hub, lots["b"], 1)
    await tick(hub, manual)
    for communicator in (first, second):
        message = await receive(communicator)
        assert [(lot["code"], lot["free_berths"], lot["status"]) for lot in message["lots"]] == [("B-1", 1, "open")]
    await first.disconnect()
    assert hub.running
    await second.disconnect()
    assert not hub.running and not hub.outboxes


@pytest.mark.django_db(transaction=False)
async def test_an_unrouted_websocket_path_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/other/")
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect(timeout=0.3)


async def test_publish_after_commit_sends_only_what_committed(manual, lots):
    communicator, hub = await connect(clock=manual)
    await receive(communicator)

    @database_sync_to_async
    def move(lot, free, *, fail):
        try:
            with transaction.atomic():
                ParkingLot.objects.filter(pk=lot.pk).update(free_berths=free)
                publish_lots_after_commit([lot.pk])
                if fail:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    await move(lots["a"], 1, fail=True)
    await move(lots["c"], 2, fail=False)
    await eventually(lambda: hub.state["C-1"]["free_berths"] == 2, "the committed change")
    await tick(hub, manual)
    message = await receive(communicator)
    assert counts(message) == [("C-1", 2)]
    assert hub.state["A-1"]["free_berths"] == 40
    await communicator.disconnect()


async def test_a_refresh_heals_a_change_the_channel_layer_lost(manual, lots, settings):
    settings.REALTIME_REFRESH_SECONDS = 60.0
    communicator, hub = await connect(clock=manual)
    await receive(communicator)
    await set_free(lots["a"], 7, publish=False)  # as if the message had been dropped
    await tick(hub, manual)
    assert await communicator.receive_nothing(timeout=0.2)
    await tick(hub, manual, 60)
    message = await receive(communicator)
    assert counts(message) == [("A-1", 7)]
    await communicator.disconnect()


async def test_the_real_ticker_paces_messages_and_delivers_within_a_tick(settings, lots):
    """With the hub's own ticker (0.2 s here): a burst of changes gives ≤ one message a tick."""
    settings.REALTIME_TICK_SECONDS = 0.2
    communicator, _ = await connect()
    await receive(communicator)
    received: list[tuple[float, dict]] = []

    async def collect():
        while True:
            message = await receive(communicator, timeout=3)
            received.append((time.monotonic(), message))
            if ("A-1", 10) in [(lot["code"], lot["free_berths"]) for lot in message["lots"]]:
                return

    collector = asyncio.ensure_future(collect())
    published_at = time.monotonic()
    for free in range(39, 9, -1):  # 30 changes over about 0.6 s
        await set_free(lots["a"], free)
        await asyncio.sleep(0.02)
    await asyncio.wait_for(collector, 3)
    assert received, "no message within 2 s"
    assert counts(received[-1][1]) == [("A-1", 10)]
    assert len(received) <= (received[-1][0] - published_at) / 0.2 + 1
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(received)]
    assert all(gap > 0.1 for gap in gaps), gaps
    await communicator.disconnect()


async def test_a_stalled_client_is_dropped_and_its_backlog_stays_bounded(settings, manual, lots):
    """A transport whose sends never finish: pending state stays one entry a lot, then the socket closes."""
    settings.REALTIME_SEND_TIMEOUT_SECONDS = 0.3
    consumer = websocket_urlpatterns[0].callback
    inbox: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []
    stall = asyncio.Event()

    async def send(message):
        sent.append(message)
        if message["type"] == "websocket.send":
            await stall.wait()  # the client stopped reading; the socket buffer is full

    scope = {"type": "websocket", "path": "/ws/occupancy/", "query_string": b"snapshot=0", "headers": [],
             "subprotocols": [], "url_route": {"args": (), "kwargs": {}}}
    hub = hub_module.hub_for_this_loop()
    hub.clock = manual
    task = asyncio.ensure_future(consumer(scope, inbox.get, send))
    await inbox.put({"type": "websocket.connect"})
    for _ in range(200):
        if sent:
            break
        await asyncio.sleep(0.01)
    assert sent[0]["type"] == "websocket.accept"
    (outbox,) = hub.outboxes

    await change(hub, lots["a"], 1)
    await tick(hub, manual)  # this send never completes
    for free in range(40):
        await set_free(lots["a" if free % 2 else "c"], free % 5)
        await tick(hub, manual)
        assert outbox.pending_count <= len(lots)
    await asyncio.sleep(0.5)
    assert outbox not in hub.outboxes
    assert sent[-1] == {"type": "websocket.close", "code": 1013}
    await inbox.put({"type": "websocket.disconnect", "code": 1013})
    await asyncio.wait_for(task, 2)


async def test_embedded_mode_picks_up_markers_from_another_process(manual, lots, settings):
    """Without Redis, what run_scheduler publishes arrives as a ChangeMarker row the hub reads a tick."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    communicator, hub = await connect(clock=manual)
    assert hub.embedded
    await receive(communicator)

    @database_sync_to_async
    def scheduler_marks_offline(lot):
        ParkingLot.objects.filter(pk=lot.pk).update(offline_since=timezone.now())
        ChangeMarker.objects.create(lot_ids=[lot.pk])

    await scheduler_marks_offline(lots["c"])
    await tick(hub, manual)
    message = await receive(communicator)
    assert [(lot["code"], lot["status"]) for lot in message["lots"]] == [("C-1", "offline")]
    await tick(hub, manual)
    assert await communicator.receive_nothing(timeout=0.2)  # a marker is read once
    await communicator.disconnect()


@pytest.mark.django_db(transaction=False)
def test_a_process_that_serves_no_websocket_writes_a_marker(lots, settings, monkeypatch):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(hub_module, "_serves_websockets", False)
    old = ChangeMarker.objects.create(lot_ids=[0], created_at=timezone.now() - timedelta(minutes=10))
    publish_lots([lots["a"].pk, lots["b"].pk, lots["a"].pk])
    assert list(ChangeMarker.objects.values_list("lot_ids", flat=True)) == [sorted([lots["a"].pk, lots["b"].pk])]
    assert not ChangeMarker.objects.filter(pk=old.pk).exists()  # old markers are pruned


@pytest.mark.django_db(transaction=False)
def test_a_process_with_a_listener_publishes_in_memory_and_writes_no_marker(lots, settings, monkeypatch):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(hub_module, "_serves_websockets", True)  # a server process: its hub ran here
    publish_lots([lots["a"].pk])
    assert not ChangeMarker.objects.exists()

    monkeypatch.setattr(hub_module, "_serves_websockets", False)  # no hub, but a channel of ours listens
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(hub_module.OCCUPANCY_GROUP, channel)
    publish_lots([lots["b"].pk])
    message = async_to_sync(layer.receive)(channel)
    async_to_sync(layer.group_discard)(hub_module.OCCUPANCY_GROUP, channel)
    assert [lot["code"] for lot in message["lots"]] == ["B-1"]
    assert not ChangeMarker.objects.exists()
