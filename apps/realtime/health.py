"""Whether the channel layer answers (``/readyz``): only apps.realtime touches the channel layer."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


async def _round_trip(timeout: float) -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def ping() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "health.ping":
            raise RuntimeError("the channel layer returned another message")

    await asyncio.wait_for(ping(), timeout)


def channel_layer_round_trip(*, timeout: float = 2.0) -> None:
    """Send a message to a fresh channel and read it back within ``timeout`` seconds, or raise."""
    async_to_sync(_round_trip)(timeout)
