"""``/ws/occupancy/`` (SPEC §4): live free-berth counts for the map and any other client.

The consumer only parses and hands over: the process's hub (``apps.realtime.hub``) holds the
state, coalesces and paces the messages. See the hub's docstring for the snapshot on connect,
bbox subscriptions and how slow clients are dropped. A client message that cannot be used is
answered at once with ``{"type": "error", "error": {"code", "message", "details"}}`` (SPEC §1's
error body); the connection stays open. Those replies answer the client and are not occupancy
messages, so they do not count against the one-a-second pace.
"""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from apps.common import messages
from apps.common.errors import DomainError, error_body
from apps.common.geo import BBox

from . import hub

# Longer than any subscribe message needs; a bigger frame is refused without being parsed.
MAX_CLIENT_MESSAGE_CHARS = 1024
# 1013 "try again later": the client was too slow to keep up; it reconnects with back-off.
CLOSE_TOO_SLOW = 1013


class ClientMessageError(DomainError):
    code = "invalid_message"


def parse_client_message(text: str | None) -> BBox | None:
    """The bbox a client subscribes to (None: every lot), or ClientMessageError."""
    if text is None:
        raise ClientMessageError(_("只接受 JSON 文本消息"))
    if len(text) > MAX_CLIENT_MESSAGE_CHARS:
        raise ClientMessageError(_("消息过长"), details={"max_chars": MAX_CLIENT_MESSAGE_CHARS})
    try:
        message = json.loads(text)
    except ValueError:
        raise ClientMessageError(_("消息不是有效的 JSON"), code="invalid_json")
    if not isinstance(message, dict) or message.get("type") != "subscribe":
        raise ClientMessageError(_("不支持的消息类型，仅支持 subscribe"), code="unknown_message_type",
                                 field="type")
    if "bbox" not in message:
        raise ClientMessageError(_("subscribe 消息须包含 bbox"), code="invalid_bbox", field="bbox")
    return parse_bbox(message["bbox"])


def parse_bbox(value) -> BBox | None:
    if value is None:
        return None
    numbers_ok = (
        isinstance(value, list) and len(value) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )
    # The rules and words of the lot list's bbox filter (apps.common.messages), for a JSON array.
    if not numbers_ok:
        raise _bbox_error(messages.BBOX_ARRAY)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in value)
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise _bbox_error(messages.LONGITUDE)
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise _bbox_error(messages.LATITUDE)
    if min_lat > max_lat:
        raise _bbox_error(messages.MIN_LAT_ABOVE_MAX)
    return BBox(min_lon, min_lat, max_lon, max_lat)


def _bbox_error(message) -> ClientMessageError:
    return ClientMessageError(messages.for_field("bbox", message), code="invalid_bbox", field="bbox")


class OccupancyConsumer(AsyncWebsocketConsumer):
    # Not a configured layer: connections get no channel of their own. The hub is this
    # process's one member of the occupancy group and fans out in memory.
    channel_layer_alias = "occupancy-hub-only"

    outbox: hub.Outbox | None = None

    async def connect(self):
        # Public data, read only: every visitor may watch. Only the routed path reaches here.
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        snapshot = query.get("snapshot", ["1"])[-1] != "0"
        self.outbox = await hub.join(send_text=self._send_text, on_stalled=self._close_too_slow, snapshot=snapshot)
        await self.accept()
        self.outbox.open()

    async def disconnect(self, code):
        if self.outbox is not None:
            await hub.leave(self.outbox)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            bbox = parse_client_message(text_data)
        except ClientMessageError as exc:
            await self._send_text(json.dumps({"type": "error", **error_body(exc.code, exc.message, exc.details)},
                                             ensure_ascii=False))
            return
        self.outbox.subscribe(bbox)

    async def _send_text(self, text: str) -> None:
        await self.send(text_data=text)

    async def _close_too_slow(self) -> None:
        await self.close(code=CLOSE_TOO_SLOW)
