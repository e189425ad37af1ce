"""The per-process occupancy hub behind ``/ws/occupancy/`` (SPEC §4).

One hub runs in each server process (per event loop), not one group member per browser:

- The hub, not each connection, joins the ``occupancy`` group with one channel. With Redis a
  publish is one message per server process instead of one per browser, and the fan-out to a
  thousand sockets happens in memory.
- It keeps the latest state of every lot (``state``), loaded with one query when the first
  connection arrives and refreshed with one query every ``REALTIME_REFRESH_SECONDS`` (a message
  the channel layer dropped — it drops when a channel is over capacity — heals there). Messages
  carry full lot states, so nothing is queried per message or per connection.
- Every tick (``REALTIME_TICK_SECONDS``, one second) it hands what changed since the last tick to
  every connection's ``Outbox``. An outbox sends at most one message per tick, and none sooner
  than a tick after its previous one (SPEC §4: at most one message a second a connection).

Snapshot: a connection gets every lot in its first message, right after it is accepted (the
``occupancy`` shape; "changed since its last message" with no last message is everything). After
``{"type": "subscribe", "bbox": [...]}`` its next message holds every lot inside the box, then only
changes inside it. ``?snapshot=0`` on the URL skips the first snapshot for clients that loaded
``/api/v1/map/lots.geojson`` and want changes only. Snapshots without a box share one serialised
text per state version, so a thousand clients connecting cost one ``json.dumps``.

Slow clients: an outbox holds at most one pending entry per lot (later changes overwrite earlier
ones) and one message in flight. A send that has not finished after ``REALTIME_SEND_TIMEOUT_SECONDS``
closes the connection (code 1013, try again later) instead of queueing more. That catches servers
that apply back-pressure (uvicorn); daphne accepts every send at once and buffers in Twisted,
where its ping timeout (30 s without a pong) is what drops a client that stopped reading.

Embedded mode (no ``REDIS_URL``): the in-memory channel layer reaches only this process, while
``manage.py run_scheduler`` marks lots offline in another. ``publish_lots`` in a process where no
hub has run (nor anything else joined the group) therefore writes a ``ChangeMarker`` row (the lot
ids) instead of a group_send that would reach nobody, and each hub on the
in-memory layer reads markers newer than its cursor once a tick — one indexed query per process
per second, never per connection. A marker whose id is passed before it commits (possible only
with concurrent writers on PostgreSQL without Redis) is caught by the periodic refresh.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from apps.common import metrics
from apps.common.geo import BBox, bbox_contains
from apps.common.outage import Outage

from .selectors import latest_marker_id, lot_states, marked_lot_states

logger = logging.getLogger(__name__)

OCCUPANCY_GROUP = "occupancy"
PUBLIC_FIELDS = ("code", "free_berths", "total_berths", "status", "updated_at")
# The channel layer forgets a group member after a day (group_expiry); re-join well before.
GROUP_REJOIN_SECONDS = 3600.0
# asyncio may wake a timer up to its clock resolution early; a tick a hair short of the interval
# after the previous message must still count as the next tick, not wait a whole extra one.
_CLOCK_SLACK = 0.005

_serves_websockets = False

_layer_outage = Outage(logger, service="the channel layer (occupancy hub)",
                       consequence="open maps get no pushes; the hub joins the group again when it answers")


def is_process_local(layer) -> bool:
    return isinstance(layer, InMemoryChannelLayer)


def has_local_listeners(layer) -> bool:
    """Whether a group_send on this process-local layer would reach anyone: a hub runs (or ran)
    here, or something in this process joined the group itself."""
    return _serves_websockets or bool(layer.groups.get(OCCUPANCY_GROUP))


def render(lots: Iterable[dict]) -> str:
    """SPEC §4's message, without the lat/lon the hub keeps for bbox filtering."""
    body = {"type": "occupancy", "lots": [{key: lot[key] for key in PUBLIC_FIELDS} for lot in lots]}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def in_box(bbox: BBox | None, lot: dict) -> bool:
    return bbox is None or bbox_contains(bbox, lot["lat"], lot["lon"])


class _Snapshot:
    """Marks an outbox whose next message is every lot (in its box), not just the changes."""

    def __repr__(self) -> str:
        return "SNAPSHOT"


SNAPSHOT = _Snapshot()


class Outbox:
    """One connection's coalesced, rate-limited stream of occupancy messages."""

    def __init__(self, hub: OccupancyHub, *, send_text: Callable[[str], Awaitable[None]],
                 on_stalled: Callable[[], Awaitable[None]], snapshot: bool):
        self.hub = hub
        self.bbox: BBox | None = None
        self._send_text = send_text
        self._on_stalled = on_stalled
        self._pending: dict[str, dict] | _Snapshot = SNAPSHOT if snapshot else {}
        self._opened = False
        self._sent_at: float | None = None
        self._task: asyncio.Task | None = None
        self.closed = False

    @property
    def awaiting_snapshot(self) -> bool:
        return self._pending is SNAPSHOT

    @property
    def pending_count(self) -> int:
        return len(self.hub.state) if self._pending is SNAPSHOT else len(self._pending)

    def open(self) -> None:
        """The socket is accepted: send the snapshot now (a first message has nothing to wait for)."""
        self._opened = True
        if self._pending is SNAPSHOT:
            self._pending = {}
            self._write(self.hub.snapshot_text(self.bbox), self.hub.clock())

    def subscribe(self, bbox: BBox | None) -> None:
        self.bbox = bbox
        self._pending = SNAPSHOT

    def offer(self, batch: dict[str, dict], batch_text: str | None, now: float) -> None:
        """Called by the hub once a tick with the lots that changed since the previous tick."""
        if self.closed:
            return
        ready = (self._opened and self._task is None
                 and (self._sent_at is None or now - self._sent_at >= self.hub.interval - _CLOCK_SLACK))
        if ready and self.bbox is None and isinstance(self._pending, dict) and not self._pending:
            if batch_text is not None:  # the common case: share the tick's one serialisation
                self._write(batch_text, now)
            return
        self._merge(batch)
        if not ready:
            return
        if self._pending is SNAPSHOT:
            text = self.hub.snapshot_text(self.bbox)
        elif self._pending:
            text = render(self._pending.values())
        else:
            return
        self._pending = {}
        self._write(text, now)

    def close(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()

    def _merge(self, batch: dict[str, dict]) -> None:
        if self._pending is SNAPSHOT:
            return  # the snapshot is built from the hub's state when sent, so it includes these
        if self.bbox is None:
            self._pending.update(batch)
        else:
            self._pending.update((code, lot) for code, lot in batch.items() if in_box(self.bbox, lot))

    def _write(self, text: str, now: float) -> None:
        self._sent_at = now
        self._task = asyncio.ensure_future(self._deliver(text))

    async def _deliver(self, text: str) -> None:
        try:
            await asyncio.wait_for(self._send_text(text), self.hub.send_timeout)
        except TimeoutError:
            logger.info("dropping an occupancy client whose send stalled for %.1f s", self.hub.send_timeout)
            self.closed = True
            self.hub.detach(self)
            self._task = None
            try:
                await asyncio.wait_for(self._on_stalled(), self.hub.send_timeout)
            except Exception:  # the socket is going away either way
                logger.debug("closing a stalled occupancy client failed", exc_info=True)
            return
        except Exception:  # the socket went away under us; its disconnect will follow
            logger.debug("occupancy send failed", exc_info=True)
            self.closed = True
            self.hub.detach(self)
        self._task = None


class OccupancyHub:
    def __init__(self, *, layer, interval: float, refresh_seconds: float, send_timeout: float,
                 autotick: bool = True, clock: Callable[[], float] = time.monotonic):
        self.layer = layer
        self.interval = interval
        self.refresh_seconds = refresh_seconds
        self.send_timeout = send_timeout
        self.autotick = autotick
        self.clock = clock
        self.state: dict[str, dict] = {}
        self.outboxes: set[Outbox] = set()
        self.running = False
        self.lock = asyncio.Lock()
        self._changed: dict[str, dict] = {}
        self._during_refresh: dict[str, dict] | None = None
        self._version = 0
        self._snapshot_cache: tuple[int, str] | None = None
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._marker_cursor = 0
        self._refreshed_at = 0.0
        self._joined_at = 0.0

    @property
    def embedded(self) -> bool:
        return is_process_local(self.layer)

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        global _serves_websockets
        _serves_websockets = True
        try:
            self._channel = await self.layer.new_channel()
            await self.layer.group_add(OCCUPANCY_GROUP, self._channel)
            self._joined_at = self.clock()
            # Listen before loading, so nothing published while the snapshot loads is missed.
            self._tasks = [asyncio.ensure_future(self._receive_loop())]
            if self.embedded:
                self._marker_cursor = await database_sync_to_async(latest_marker_id)()
            await self._refresh()
        except BaseException:
            await self.stop()
            raise
        self._changed.clear()  # nobody is attached yet; the first snapshot carries it all
        if self.autotick:
            self._tasks.append(asyncio.ensure_future(self._tick_loop()))
        self.running = True

    async def stop(self) -> None:
        self.running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._channel is not None:
            try:
                await self.layer.group_discard(OCCUPANCY_GROUP, self._channel)
            except Exception:
                logger.warning("leaving the occupancy group failed", exc_info=True)
            self._channel = None
        self.state.clear()
        self._changed.clear()

    def attach(self, outbox: Outbox) -> None:
        self.outboxes.add(outbox)

    def detach(self, outbox: Outbox) -> None:
        self.outboxes.discard(outbox)

    # --- state --------------------------------------------------------------------------------
    def apply(self, lots: Iterable[dict]) -> None:
        for lot in lots:
            if not isinstance(lot, dict) or "code" not in lot:
                continue
            self.state[lot["code"]] = lot
            self._changed[lot["code"]] = lot
            if self._during_refresh is not None:
                self._during_refresh[lot["code"]] = lot
        self._version += 1

    def snapshot_text(self, bbox: BBox | None) -> str:
        if bbox is not None:
            return render(lot for lot in self.state.values() if in_box(bbox, lot))
        if self._snapshot_cache is None or self._snapshot_cache[0] != self._version:
            self._snapshot_cache = (self._version, render(self.state.values()))
        return self._snapshot_cache[1]

    async def _refresh(self) -> None:
        self._during_refresh = {}
        try:
            rows = await database_sync_to_async(lot_states)()
        finally:
            during, self._during_refresh = self._during_refresh, None
        fresh = {lot["code"]: lot for lot in rows}
        fresh.update(during)  # published while the query ran: at least as new as its rows
        self._changed.update((code, lot) for code, lot in fresh.items() if self.state.get(code) != lot)
        self.state = fresh
        self._version += 1
        self._refreshed_at = self.clock()

    # --- the tick -----------------------------------------------------------------------------
    async def tick(self) -> None:
        """Collect what changed since the last tick and offer it to every connection."""
        now = self.clock()
        if self.embedded:
            self._marker_cursor, lots = await database_sync_to_async(marked_lot_states)(self._marker_cursor)
            if lots:
                self.apply(lots)
        if now - self._refreshed_at >= self.refresh_seconds:
            await self._refresh()
        if now - self._joined_at >= GROUP_REJOIN_SECONDS and self._channel is not None:
            await self.layer.group_add(OCCUPANCY_GROUP, self._channel)
            self._joined_at = now
        batch, self._changed = self._changed, {}
        batch_text = render(batch.values()) if batch else None
        for outbox in list(self.outboxes):
            outbox.offer(batch, batch_text, now)

    async def _tick_loop(self) -> None:
        while True:
            started = self.clock()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("occupancy tick failed")
            await asyncio.sleep(max(0.0, started + self.interval - self.clock()))

    async def _receive_loop(self) -> None:
        joined = True
        while True:
            try:
                if not joined:
                    # A Redis that restarted without persistence comes back empty: this channel's
                    # place in the group went with it, and nothing published would reach it again.
                    await self.layer.group_add(OCCUPANCY_GROUP, self._channel)
                    self._joined_at = self.clock()
                    joined = True
                    self._refreshed_at = float("-inf")  # what changed meanwhile was not pushed: reload it
                    _layer_outage.answered()
                message = await self.layer.receive(self._channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: keep the sockets, try again shortly
                _layer_outage.failed(exc)  # one warning line a minute, not a traceback a second
                joined = False
                await asyncio.sleep(1.0)
                continue
            if message.get("type") == "occupancy.changed":
                self.apply(message.get("lots") or ())
                sent_at = message.get("sent_at")
                if isinstance(sent_at, int | float):  # publish → this hub, across the channel layer
                    metrics.observe("wxp_push_lag_seconds", max(0.0, time.time() - sent_at))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, OccupancyHub] = weakref.WeakKeyDictionary()


def hub_for_this_loop() -> OccupancyHub:
    """This event loop's hub, made (not started) on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = OccupancyHub(
            layer=get_channel_layer(),
            interval=float(getattr(settings, "REALTIME_TICK_SECONDS", 1.0)),
            refresh_seconds=float(getattr(settings, "REALTIME_REFRESH_SECONDS", 60.0)),
            send_timeout=float(getattr(settings, "REALTIME_SEND_TIMEOUT_SECONDS", 5.0)),
            autotick=bool(getattr(settings, "REALTIME_AUTOTICK", True)),
            clock=loop.time,
        )
        _hubs[loop] = hub
    return hub


async def join(*, send_text: Callable[[str], Awaitable[None]], on_stalled: Callable[[], Awaitable[None]],
               snapshot: bool = True) -> Outbox:
    """Attach a connection to this process's hub, starting the hub if it is the first."""
    hub = hub_for_this_loop()
    async with hub.lock:
        if not hub.running:
            await hub.start()
        outbox = Outbox(hub, send_text=send_text, on_stalled=on_stalled, snapshot=snapshot)
        hub.attach(outbox)
    return outbox


async def leave(outbox: Outbox) -> None:
    """Detach a connection; the last one out stops the hub (a new visitor starts it again)."""
    outbox.close()
    hub = outbox.hub
    hub.detach(outbox)
    async with hub.lock:
        if hub.running and not hub.outboxes:
            await hub.stop()
